//! Opening data: a Parquet tree (local or object storage) or an in-memory profile, registered as
//! the `samples` table; running SQL with scan progress.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::ObjectStore;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{ParquetReadOptions, SessionConfig, SessionContext};
use futures::StreamExt;
use profcol_pdata::ExportProfilesServiceRequest;

use crate::error::{QueryError, Result};
use profcol_layout::schema::PARTITION_COLUMNS;

/// The table every query reads.
pub const TABLE: &str = "samples";

/// How far a scan got, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct ScanProgress {
    /// Bytes the Parquet readers fetched so far.
    pub bytes_scanned: u64,
    /// The size of all files of the table (0 for in-memory data).
    pub total_bytes: u64,
    pub files: usize,
    pub elapsed: Duration,
    /// True on the last call, when the scan is over.
    pub done: bool,
}

/// Called every 250 ms once a query has run for a second, and once at its end.
pub type ProgressFn = Arc<dyn Fn(ScanProgress) + Send + Sync>;

/// A DataFusion session with `samples` registered.
pub struct Session {
    ctx: SessionContext,
    /// Where the data is, for messages (`/data/profiles/`, `s3://b/base/profiles/`, `<input>`).
    pub location: String,
    pub files: usize,
    pub bytes: u64,
    progress: Option<ProgressFn>,
}

fn new_context() -> SessionContext {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let config = SessionConfig::new()
        .with_target_partitions(threads)
        .with_information_schema(true);
    SessionContext::new_with_config(config)
}

/// Splits `scheme://bucket/rest` → (scheme, bucket, rest).
fn split_url(s: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = s.split_once("://")?;
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    Some((scheme, bucket, path))
}

/// Where the partitions are below a base: `<base>/profiles/` unless the location already points
/// into the tree (a `profiles` segment or a `service_name=` partition).
fn profiles_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    let inside = trimmed
        .rsplit('/')
        .any(|seg| seg == "profiles" || seg.contains('='));
    if inside {
        format!("{trimmed}/")
    } else if trimmed.is_empty() {
        "profiles/".to_owned()
    } else {
        format!("{trimmed}/profiles/")
    }
}

fn object_store_for(scheme: &str, url: &str) -> Result<Arc<dyn ObjectStore>> {
    use datafusion::object_store::aws::AmazonS3Builder;
    use datafusion::object_store::azure::MicrosoftAzureBuilder;
    use datafusion::object_store::gcp::GoogleCloudStorageBuilder;
    Ok(match scheme {
        "s3" | "s3a" => Arc::new(AmazonS3Builder::from_env().with_url(url).build()?),
        "gs" => Arc::new(
            GoogleCloudStorageBuilder::from_env()
                .with_url(url)
                .build()?,
        ),
        "az" | "azure" | "abfs" | "abfss" | "adl" => {
            Arc::new(MicrosoftAzureBuilder::from_env().with_url(url).build()?)
        }
        other => {
            return Err(QueryError::Invalid(format!(
                "unsupported storage scheme {other}:// (use a local path, file://, s3://, gs:// or az://)"
            )));
        }
    })
}

impl Session {
    /// Opens a Parquet tree: a local directory (the exporter's base, its `profiles/` directory, or
    /// a partition inside it) or `s3://`, `gs://`, `az://`, `file://` URLs, with credentials from
    /// the usual environment variables (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, …).
    pub async fn open(location: &str) -> Result<Session> {
        let ctx = new_context();
        let table_url = if let Some((scheme, bucket, path)) = split_url(location)
            && scheme != "file"
        {
            let store = object_store_for(scheme, location)?;
            let root = ObjectStoreUrl::parse(format!("{scheme}://{bucket}"))?;
            ctx.register_object_store(root.as_ref(), store);
            format!("{scheme}://{bucket}/{}", profiles_path(path))
        } else {
            let local = location.strip_prefix("file://").unwrap_or(location);
            let p = std::path::Path::new(local);
            if !p.exists() {
                return Err(QueryError::NoData(format!("{local} does not exist")));
            }
            let abs = std::fs::canonicalize(p).map_err(|e| QueryError::io(local, e))?;
            if abs.is_file() {
                return Self::open_file(ctx, &abs).await;
            }
            let base = if abs.join("profiles").is_dir() {
                abs.join("profiles")
            } else {
                abs
            };
            format!("{}/", base.display())
        };
        let url = ListingTableUrl::parse(&table_url)?;
        let store = ctx.runtime_env().object_store(url.object_store())?;
        let (files, bytes) = count_files(store.as_ref(), &url).await?;
        if files == 0 {
            return Err(QueryError::NoData(format!(
                "no .parquet files under {table_url}"
            )));
        }
        let partitions: Vec<(String, DataType)> = partition_columns_below(&table_url)
            .into_iter()
            .map(|c| (c.to_owned(), DataType::Utf8))
            .collect();
        let opts = ParquetReadOptions::default()
            .file_extension(".parquet")
            .table_partition_cols(partitions);
        ctx.register_parquet(TABLE, &table_url, opts).await?;
        add_missing_partition_views(&ctx, &table_url).await?;
        Ok(Session {
            ctx,
            location: table_url,
            files,
            bytes,
            progress: None,
        })
    }

    /// A single Parquet file: partition columns come from its path when it has them, else from
    /// its own rows (`date`/`hour` from `time`) and key-value metadata (`service_name`).
    async fn open_file(ctx: SessionContext, path: &std::path::Path) -> Result<Session> {
        let shown = path.display().to_string();
        let bytes = std::fs::metadata(path)
            .map_err(|e| QueryError::io(&shown, e))?
            .len();
        ctx.register_parquet("samples_file", &shown, ParquetReadOptions::default())
            .await?;
        let mut service = "unknown_service".to_owned();
        for seg in shown.split('/') {
            if let Some(v) = seg.strip_prefix("service_name=") {
                service = v.to_owned();
            }
        }
        if service == "unknown_service" {
            let f = std::fs::File::open(path).map_err(|e| QueryError::io(&shown, e))?;
            let reader = datafusion::parquet::file::reader::SerializedFileReader::new(f)?;
            use datafusion::parquet::file::reader::FileReader;
            if let Some(kv) = reader.metadata().file_metadata().key_value_metadata() {
                for e in kv {
                    if (e.key == "service_name" || e.key.ends_with(".service_name"))
                        && let Some(v) = &e.value
                    {
                        service = v.clone();
                    }
                }
            }
        }
        let sql = format!(
            "CREATE VIEW {TABLE} AS SELECT *, {} AS service_name, \
             to_char(time, '%Y-%m-%d') AS date, to_char(time, '%H') AS hour FROM samples_file",
            crate::filter::quote(&service)
        );
        ctx.sql(&sql).await?.collect().await?;
        Ok(Session {
            ctx,
            location: shown,
            files: 1,
            bytes,
            progress: None,
        })
    }

    /// An in-memory `samples` table from a validated OTLP request (one profile file given with
    /// `--input`): exactly the rows the `parquet` exporter writes for it (the same flattening,
    /// `profcol_layout::flatten`), plus the partition columns. Samples without any time get the
    /// current time, as the exporter gives them the time it received them.
    pub fn from_request(req: &ExportProfilesServiceRequest, name: &str) -> Result<Session> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        let batches = profcol_layout::flatten([req], now)?
            .iter()
            .map(|(key, b)| profcol_layout::with_partition_columns(b, key))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if batches.iter().all(|b| b.num_rows() == 0) {
            return Err(QueryError::NoData(format!("{name} holds no samples")));
        }
        Self::from_batches(batches, name)
    }

    /// An in-memory `samples` table (batches of [`crate::schema::table_schema`]).
    pub fn from_batches(batches: Vec<RecordBatch>, name: &str) -> Result<Session> {
        let ctx = new_context();
        let schema = batches
            .first()
            .map(|b| b.schema())
            .unwrap_or_else(crate::schema::table_schema);
        let table = MemTable::try_new(schema, vec![batches])?;
        ctx.register_table(TABLE, Arc::new(table))?;
        Ok(Session {
            ctx,
            location: name.to_owned(),
            files: 0,
            bytes: 0,
            progress: None,
        })
    }

    /// Reports scan progress of later queries to `f`.
    pub fn set_progress(&mut self, f: Option<ProgressFn>) {
        self.progress = f;
    }

    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Runs one SQL statement and collects its result.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        let df = self.ctx.sql(sql).await?;
        let plan = df.create_physical_plan().await?;
        let task = self.ctx.task_ctx();
        let fut = datafusion::physical_plan::collect(plan.clone(), task);
        let Some(report) = self.progress.clone() else {
            return Ok(fut.await?);
        };
        tokio::pin!(fut);
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut reported = false;
        let result = loop {
            tokio::select! {
                r = &mut fut => break r,
                _ = tick.tick() => {
                    if start.elapsed() >= Duration::from_secs(1) {
                        reported = true;
                        report(self.progress_of(&plan, start, false));
                    }
                }
            }
        };
        if reported {
            report(self.progress_of(&plan, start, true));
        }
        Ok(result?)
    }

    fn progress_of(
        &self,
        plan: &Arc<dyn ExecutionPlan>,
        start: Instant,
        done: bool,
    ) -> ScanProgress {
        ScanProgress {
            bytes_scanned: bytes_scanned(plan.as_ref()),
            total_bytes: self.bytes,
            files: self.files,
            elapsed: start.elapsed(),
            done,
        }
    }
}

/// The `bytes_scanned` metric summed over a plan tree.
fn bytes_scanned(plan: &dyn ExecutionPlan) -> u64 {
    let own = plan
        .metrics()
        .and_then(|m| m.sum_by_name("bytes_scanned"))
        .map_or(0, |v| v.as_usize() as u64);
    own + plan
        .children()
        .iter()
        .map(|c| bytes_scanned(c.as_ref()))
        .sum::<u64>()
}

async fn count_files(store: &dyn ObjectStore, url: &ListingTableUrl) -> Result<(usize, u64)> {
    let mut files = 0usize;
    let mut bytes = 0u64;
    let mut list = store.list(Some(url.prefix()));
    while let Some(meta) = list.next().await {
        let meta = meta?;
        if meta.location.as_ref().ends_with(".parquet") {
            files += 1;
            bytes += meta.size;
        }
    }
    Ok((files, bytes))
}

/// The partition columns still in the paths below `url`: all three for a `profiles/` directory,
/// fewer when the location points inside a partition.
fn partition_columns_below(url: &str) -> Vec<&'static str> {
    let given: Vec<&str> = url
        .split('/')
        .filter_map(|seg| seg.split_once('=').map(|(k, _)| k))
        .collect();
    PARTITION_COLUMNS
        .iter()
        .copied()
        .filter(|c| !given.contains(c))
        .collect()
}

/// When the location points inside a partition (`.../service_name=shop/`), the columns fixed by
/// the path are added back as constants so every query sees the same table.
async fn add_missing_partition_views(ctx: &SessionContext, url: &str) -> Result<()> {
    let fixed: Vec<(String, String)> = url
        .split('/')
        .filter_map(|seg| seg.split_once('='))
        .filter(|(k, _)| PARTITION_COLUMNS.contains(k))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if fixed.is_empty() {
        return Ok(());
    }
    let provider = ctx.deregister_table(TABLE)?.ok_or_else(|| {
        QueryError::Invalid(format!("table {TABLE} vanished while registering {url}"))
    })?;
    ctx.register_table("samples_partition", provider)?;
    let extra: Vec<String> = fixed
        .iter()
        .map(|(k, v)| format!("{} AS {k}", crate::filter::quote(v)))
        .collect();
    let sql = format!(
        "CREATE VIEW {TABLE} AS SELECT *, {} FROM samples_partition",
        extra.join(", ")
    );
    ctx.sql(&sql).await?.collect().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_path_rules() {
        assert_eq!(profiles_path("base"), "base/profiles/");
        assert_eq!(profiles_path("base/"), "base/profiles/");
        assert_eq!(profiles_path("base/profiles"), "base/profiles/");
        assert_eq!(
            profiles_path("b/profiles/service_name=x"),
            "b/profiles/service_name=x/"
        );
        assert_eq!(profiles_path(""), "profiles/");
    }

    #[test]
    fn partitions_below() {
        assert_eq!(
            partition_columns_below("/d/profiles/"),
            vec!["service_name", "date", "hour"]
        );
        assert_eq!(
            partition_columns_below("/d/profiles/service_name=a/"),
            vec!["date", "hour"]
        );
    }
}
