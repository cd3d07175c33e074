//! The query crate reads what the `parquet` exporter writes, but neither depends on the other
//! (the exporter must not pull in DataFusion): this holds their two descriptions of the layout
//! equal, column by column.

use profcol_exporters::parquet::schema as written;
use profcol_query::schema as read;

#[test]
fn query_schema_is_the_exporters_file_schema() {
    let w = written::profiles_schema();
    let r = read::file_schema();
    assert_eq!(
        w.fields().len(),
        r.fields().len(),
        "column count: {:?} vs {:?}",
        w.fields().iter().map(|f| f.name()).collect::<Vec<_>>(),
        r.fields().iter().map(|f| f.name()).collect::<Vec<_>>()
    );
    for (a, b) in w.fields().iter().zip(r.fields().iter()) {
        assert_eq!(a.name(), b.name());
        assert_eq!(a.data_type(), b.data_type(), "{}", a.name());
        assert_eq!(a.is_nullable(), b.is_nullable(), "{}", a.name());
    }
    assert_eq!(written::SCHEMA_VERSION, read::SCHEMA_VERSION);
}

#[test]
fn promoted_resource_attributes_agree() {
    assert_eq!(written::PROMOTED, read::PROMOTED_RESOURCE);
}
