//! Partition tables + a row order → Arrow record batches (`profiles` and `stacks`), and the
//! whole flattening of requests into sorted `profiles` batches ([`flatten`]).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, DictionaryArray, FixedSizeBinaryArray, Int32Array, Int64Array,
    ListArray, MapArray, PrimitiveArray, StringArray, StructArray, TimestampNanosecondArray,
    UInt64Array,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Field, Int32Type, SchemaRef};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;

use profcol_pdata::ExportProfilesServiceRequest;

use crate::append::{Sink, append_request};
use crate::partition::PartKey;
use crate::schema::{self, PROMOTED};
use crate::tables::{Consts, FrameRow, Interner, NONE, RowLimits, Tables, d, sorted_rows};

fn nulls_from(valid: impl Iterator<Item = bool>) -> Option<NullBuffer> {
    let n = NullBuffer::from_iter(valid);
    (n.null_count() > 0).then_some(n)
}

fn prim<T: ArrowPrimitiveType>(v: Vec<T::Native>, nulls: Option<NullBuffer>) -> PrimitiveArray<T> {
    PrimitiveArray::<T>::new(ScalarBuffer::from(v), nulls)
}

/// The dictionary's values, built once per row group and shared by its columns' arrays.
fn values_of(i: &Interner) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(i.values.iter().map(|s| &**s)))
}

/// A `Dictionary(Int32, Utf8)` array; negative keys are null.
fn dict_array(keys: Vec<i32>, values: &ArrayRef) -> Result<ArrayRef, ArrowError> {
    let nulls = nulls_from(keys.iter().map(|&k| k >= 0));
    let keys: Vec<i32> = keys.into_iter().map(|k| k.max(0)).collect();
    let keys: Int32Array = prim::<Int32Type>(keys, nulls);
    Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
        keys,
        values.clone(),
    )?))
}

fn list_array(
    offsets: &OffsetBuffer<i32>,
    item: DataType,
    values: ArrayRef,
) -> Result<ArrayRef, ArrowError> {
    let field = Arc::new(Field::new("item", item, true));
    Ok(Arc::new(ListArray::try_new(
        field,
        offsets.clone(),
        values,
        None,
    )?))
}

fn offsets_i32(lens: impl Iterator<Item = usize>) -> Result<OffsetBuffer<i32>, ArrowError> {
    let mut out = Vec::with_capacity(lens.size_hint().0 + 1);
    let mut acc: i64 = 0;
    out.push(0i32);
    for l in lens {
        acc += l as i64;
        out.push(i32::try_from(acc).map_err(|_| {
            ArrowError::ComputeError("row group holds more than 2^31 list elements".into())
        })?);
    }
    Ok(OffsetBuffer::new(ScalarBuffer::from(out)))
}

/// One frame field for the given stacks, flattened: the field is first laid out along the stack
/// table, then each row's run is copied (rows share few distinct stacks).
fn gather<T: Copy>(t: &Tables, stacks: &[u32], n: usize, field: impl Fn(&FrameRow) -> T) -> Vec<T> {
    let along: Vec<T> = t
        .stacks
        .frames
        .iter()
        .filter_map(|&f| t.frames.get(f as usize))
        .map(field)
        .collect();
    let mut out = Vec::with_capacity(n);
    for &s in stacks {
        let i = s as usize;
        if let (Some(&a), Some(&b)) = (t.stacks.offsets.get(i), t.stacks.offsets.get(i + 1)) {
            out.extend_from_slice(along.get(a as usize..b as usize).unwrap_or(&[]));
        }
    }
    out
}

/// The 14 frame-list columns for the given stacks (one list per entry of `stacks`).
fn frame_columns(t: &Tables, stacks: &[u32]) -> Result<Vec<ArrayRef>, ArrowError> {
    let offsets = offsets_i32(stacks.iter().map(|&s| t.stacks.frames_of(s).len()))?;
    let n = offsets.last().copied().unwrap_or(0) as usize;
    if t.stacks.frames.len()
        != t.stacks
            .frames
            .iter()
            .filter(|&&f| (f as usize) < t.frames.len())
            .count()
    {
        return Err(ArrowError::ComputeError("frame table out of sync".into()));
    }
    let dict_list = |slot: usize, dict: usize| -> Result<ArrayRef, ArrowError> {
        let keys = Int32Array::from(gather(t, stacks, n, |f| f.s[slot]));
        let values = DictionaryArray::<Int32Type>::try_new(keys, values_of(&t.dicts[dict]))?;
        list_array(&offsets, schema::dict(), Arc::new(values))
    };
    let i64_list = |get: fn(&FrameRow) -> i64| -> Result<ArrayRef, ArrowError> {
        let v = Int64Array::from(gather(t, stacks, n, get));
        list_array(&offsets, DataType::Int64, Arc::new(v))
    };
    let u64_list = |get: fn(&FrameRow) -> u64| -> Result<ArrayRef, ArrowError> {
        let v = UInt64Array::from(gather(t, stacks, n, get));
        list_array(&offsets, DataType::UInt64, Arc::new(v))
    };
    let inlined = BooleanArray::from(gather(t, stacks, n, |f| f.inlined));
    Ok(vec![
        dict_list(0, d::F_FUNCTION)?,
        dict_list(1, d::F_SYSTEM)?,
        dict_list(2, d::F_FILE)?,
        i64_list(|f| f.start_line)?,
        i64_list(|f| f.line)?,
        i64_list(|f| f.column)?,
        list_array(&offsets, DataType::Boolean, Arc::new(inlined))?,
        u64_list(|f| f.address)?,
        dict_list(3, d::F_MAPPING_FILE)?,
        dict_list(4, d::F_BUILD_ID)?,
        u64_list(|f| f.m[0])?,
        u64_list(|f| f.m[1])?,
        u64_list(|f| f.m[2])?,
        dict_list(5, d::F_FRAME_TYPE)?,
    ])
}

/// A `Map<Utf8, Utf8>` column: one map (or null) per row.
fn map_column(t: &Tables, ids: &[u32]) -> Result<ArrayRef, ArrowError> {
    let offsets = offsets_i32(ids.iter().map(|&i| t.maps.entries(i).len()))?;
    let n = offsets.last().copied().unwrap_or(0) as usize;
    let mut keys = Vec::with_capacity(n);
    let mut values = Vec::with_capacity(n);
    for &i in ids {
        for &(k, v) in t.maps.entries(i) {
            keys.push(t.maps.strings.get(k));
            values.push(t.maps.strings.get(v));
        }
    }
    let entries_field = schema::map_entries();
    let DataType::Struct(fields) = entries_field.data_type().clone() else {
        return Err(ArrowError::SchemaError(
            "map entries must be a struct".into(),
        ));
    };
    let entries = StructArray::try_new(
        fields,
        vec![
            Arc::new(StringArray::from_iter_values(keys)),
            Arc::new(StringArray::from_iter_values(values)),
        ],
        None,
    )?;
    let nulls = nulls_from(ids.iter().map(|&i| i != NONE));
    Ok(Arc::new(MapArray::try_new(
        entries_field,
        offsets,
        entries,
        nulls,
        false,
    )?))
}

fn fixed<const N: usize>(v: impl Iterator<Item = Option<[u8; N]>>) -> Result<ArrayRef, ArrowError> {
    let mut bytes = Vec::new();
    let mut valid = Vec::new();
    for x in v {
        bytes.extend_from_slice(&x.unwrap_or([0u8; N]));
        valid.push(x.is_some());
    }
    let len = valid.len();
    let size = i32::try_from(N).unwrap_or(0);
    Ok(Arc::new(FixedSizeBinaryArray::try_new_with_len(
        size,
        Buffer::from_vec(bytes),
        nulls_from(valid.into_iter()),
        len,
    )?))
}

/// A list column over flat values with `(start, len)` ranges; len 0 is null.
fn ranges_list(
    ranges: &[(u32, u32)],
    flat: &[i64],
    item: DataType,
    ts: bool,
) -> Result<ArrayRef, ArrowError> {
    let offsets = offsets_i32(ranges.iter().map(|&(_, l)| l as usize))?;
    let mut vals = Vec::with_capacity(offsets.last().copied().unwrap_or(0) as usize);
    for &(s, l) in ranges {
        vals.extend_from_slice(flat.get(s as usize..s as usize + l as usize).unwrap_or(&[]));
    }
    let values: ArrayRef = if ts {
        Arc::new(TimestampNanosecondArray::from(vals).with_timezone("UTC"))
    } else {
        Arc::new(Int64Array::from(vals))
    };
    let nulls = nulls_from(ranges.iter().map(|&(_, l)| l > 0));
    let field = Arc::new(Field::new("item", item, true));
    Ok(Arc::new(ListArray::try_new(field, offsets, values, nulls)?))
}

/// The `profiles` batch of the buffered rows, in `order`. Without `frames`, the frame lists are
/// left out (normalized layout).
pub fn profiles_batch(
    t: &Tables,
    order: &[u32],
    schema: &SchemaRef,
    frames: bool,
) -> Result<RecordBatch, ArrowError> {
    let r = &t.rows;
    let idx = |i: u32| i as usize;
    let consts: Vec<&Consts> = order
        .iter()
        .map(|&i| {
            r.consts
                .get(idx(i))
                .and_then(|&c| t.consts.get(c as usize))
                .ok_or_else(|| ArrowError::ComputeError("row without profile constants".into()))
        })
        .collect::<Result<_, _>>()?;
    let dict_values: Vec<ArrayRef> = (0..d::N_CONSTS).map(|i| values_of(&t.dicts[i])).collect();
    let const_dict = |slot: usize| -> Result<ArrayRef, ArrowError> {
        dict_array(
            consts.iter().map(|c| c.dict[slot]).collect(),
            &dict_values[slot],
        )
    };
    let pick = |v: &Vec<i64>| -> Vec<i64> { order.iter().map(|&i| v[idx(i)]).collect() };
    let stacks: Vec<u32> = order.iter().map(|&i| r.stack[idx(i)]).collect();

    let mut cols: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    cols.push(Arc::new(
        TimestampNanosecondArray::from(pick(&r.time)).with_timezone("UTC"),
    ));
    cols.push(const_dict(d::PROFILE_TYPE)?);
    cols.push(const_dict(d::SAMPLE_TYPE)?);
    cols.push(const_dict(d::SAMPLE_UNIT)?);
    cols.push(const_dict(d::PERIOD_TYPE)?);
    cols.push(const_dict(d::PERIOD_UNIT)?);
    cols.push(Arc::new(
        consts.iter().map(|c| c.period).collect::<Int64Array>(),
    ));
    cols.push(Arc::new(Int64Array::from(pick(&r.value))));
    let obs_v: Vec<(u32, u32)> = order.iter().map(|&i| r.obs_values[idx(i)]).collect();
    cols.push(ranges_list(&obs_v, &r.values_flat, DataType::Int64, false)?);
    let obs_t: Vec<(u32, u32)> = order.iter().map(|&i| r.obs_ts[idx(i)]).collect();
    cols.push(ranges_list(&obs_t, &r.ts_flat, schema::ts(), true)?);
    cols.push(Arc::new(UInt64Array::from(
        stacks
            .iter()
            .map(|&s| t.stacks.ids.get(s as usize).copied().unwrap_or(0))
            .collect::<Vec<u64>>(),
    )));
    if frames {
        cols.extend(frame_columns(t, &stacks)?);
    }
    cols.push(fixed::<16>(order.iter().map(|&i| r.trace[idx(i)]))?);
    cols.push(fixed::<8>(order.iter().map(|&i| r.span[idx(i)]))?);
    let span_values = values_of(&t.dicts[d::SPAN_NAME]);
    cols.push(dict_array(
        order.iter().map(|&i| r.span_name[idx(i)]).collect(),
        &span_values,
    )?);
    let sattrs: Vec<u32> = order.iter().map(|&i| r.sample_attrs[idx(i)]).collect();
    cols.push(map_column(t, &sattrs)?);
    cols.push(fixed::<16>(consts.iter().map(|c| c.profile_id))?);
    cols.push(Arc::new(
        TimestampNanosecondArray::from(consts.iter().map(|c| c.profile_time).collect::<Vec<i64>>())
            .with_timezone("UTC"),
    ));
    cols.push(Arc::new(
        consts.iter().map(|c| c.duration).collect::<Int64Array>(),
    ));
    let pattrs: Vec<u32> = consts.iter().map(|c| c.profile_attrs).collect();
    cols.push(map_column(t, &pattrs)?);
    cols.push(const_dict(d::PAYLOAD_FORMAT)?);
    for i in 0..PROMOTED.len() {
        cols.push(const_dict(d::PROMOTED + i)?);
    }
    let rattrs: Vec<u32> = consts.iter().map(|c| c.resource_attrs).collect();
    cols.push(map_column(t, &rattrs)?);
    cols.push(const_dict(d::SCOPE_NAME)?);
    cols.push(const_dict(d::SCOPE_VERSION)?);
    RecordBatch::try_new(schema.clone(), cols)
}

/// The `stacks` batch (normalized layout): the given stacks, in the given order.
pub fn stacks_batch(
    t: &Tables,
    stacks: &[u32],
    schema: &SchemaRef,
) -> Result<RecordBatch, ArrowError> {
    let mut cols: Vec<ArrayRef> = vec![Arc::new(UInt64Array::from(
        stacks
            .iter()
            .map(|&s| t.stacks.ids.get(s as usize).copied().unwrap_or(0))
            .collect::<Vec<u64>>(),
    ))];
    cols.extend(frame_columns(t, stacks)?);
    RecordBatch::try_new(schema.clone(), cols)
}

/// Every row of the given requests as sorted `profiles` batches, one per partition (no files,
/// no limits): what the exporter writes, for benchmarks and tools.
pub fn flatten<'a>(
    reqs: impl IntoIterator<Item = &'a ExportProfilesServiceRequest>,
    fallback_ns: i64,
) -> Result<Vec<(PartKey, RecordBatch)>, ArrowError> {
    use std::collections::BTreeMap;

    #[derive(Default)]
    struct Collect(BTreeMap<PartKey, Tables>);
    impl Sink for Collect {
        fn partition(&mut self, key: &PartKey) -> &mut Tables {
            self.0.entry(key.clone()).or_default()
        }
        fn take_evicted(&mut self) -> Vec<PartKey> {
            Vec::new()
        }
        fn limits(&self) -> RowLimits {
            RowLimits {
                rows: usize::MAX,
                bytes: usize::MAX,
                elements: usize::MAX,
            }
        }
        fn flush_full(&mut self, _: &PartKey) {}
    }
    let mut c = Collect::default();
    for r in reqs {
        append_request(r, fallback_ns, &mut c);
    }
    let schema = schema::profiles_schema();
    c.0.into_iter()
        .map(|(k, t)| {
            let order = sorted_rows(&t);
            profiles_batch(&t, &order, &schema, true).map(|b| (k, b))
        })
        .collect()
}

/// A `profiles` batch of one partition with the partition columns appended (`service_name`
/// unencoded, `date`, `hour`; Utf8): the rows as a hive-partitioned reader shows them
/// ([`schema::table_schema`]).
pub fn with_partition_columns(
    batch: &RecordBatch,
    key: &PartKey,
) -> Result<RecordBatch, ArrowError> {
    let (date, hour) = key.date_hour();
    let n = batch.num_rows();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    for v in [key.service.as_str(), &date, &hour] {
        cols.push(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(v, n),
        )));
    }
    RecordBatch::try_new(schema::table_schema(), cols)
}

/// Concatenates batches of one schema into one (dictionaries are merged).
pub fn concat(batches: &[RecordBatch]) -> Result<RecordBatch, ArrowError> {
    let Some(first) = batches.first() else {
        return Ok(RecordBatch::new_empty(schema::profiles_schema()));
    };
    arrow::compute::concat_batches(&first.schema(), batches)
}
