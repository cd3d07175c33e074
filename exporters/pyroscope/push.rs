//! OTLP request → Pyroscope `PushRequest`s (spec `pyroscope.md` §3): one series per OTLP Profile
//! (or per reassembled multi-type pprof), pre-checked against Pyroscope's default limits.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use profcol_pdata::ExportProfilesServiceRequest;
use profcol_pdata::pprof::{self, FromOtlpStats, PprofOut};
use profcol_pdata::proto::{ProfilesDictionary, ScopeProfiles};
use profcol_pdata::pyroscope::series::{
    self, LabelConfig, LabelStats, ProfileName, ProfileType, SampleLabelInfo, attr_keys,
};
use profcol_pdata::pyroscope::{LabelPair, PushRequest, RawProfileSeries, RawSample};
use profcol_pdata::view::Dict;

/// How a request is turned into series.
#[derive(Debug, Clone)]
pub struct PrepareOptions {
    pub labels: LabelConfig,
    pub max_profile_size_bytes: usize,
    pub max_samples_per_profile: usize,
    pub max_labels_per_sample: usize,
    /// Zero disables the check.
    pub reject_older_than: Duration,
    /// Zero disables the check.
    pub reject_newer_than: Duration,
}

impl Default for PrepareOptions {
    fn default() -> Self {
        PrepareOptions {
            labels: LabelConfig::default(),
            max_profile_size_bytes: series::MAX_PROFILE_SIZE_BYTES,
            max_samples_per_profile: series::MAX_PROFILE_SAMPLES,
            max_labels_per_sample: series::MAX_SAMPLE_LABELS,
            reject_older_than: Duration::from_secs(3600),
            reject_newer_than: Duration::from_secs(600),
        }
    }
}

/// One pprof ready to send.
#[derive(Debug, Clone)]
pub struct PreparedProfile {
    pub sample: RawSample,
    /// When the server would start rejecting it as too old (`None`: never).
    pub deadline: Option<SystemTime>,
    /// Its `__profile_type__` ids (one per sample type).
    pub type_ids: Vec<String>,
}

/// A series: its labels and its pprofs.
#[derive(Debug, Clone)]
pub struct PreparedSeries {
    pub labels: Vec<LabelPair>,
    pub profiles: Vec<PreparedProfile>,
}

/// What preparing a request dropped, split or changed.
#[derive(Debug, Clone, Default)]
pub struct PrepareStats {
    /// pprofs produced from the OTLP request (before splitting).
    pub pprofs: usize,
    /// pprofs in the output (after splitting).
    pub sent_pprofs: usize,
    /// Scopes not reassembled into one pprof because their profiles get different names.
    pub scopes_not_reassembled: usize,
    pub dropped_too_old: usize,
    pub dropped_too_new: usize,
    pub dropped_empty: usize,
    pub dropped_no_sample_type: usize,
    /// Samples that alone exceed `max_profile_size_bytes`.
    pub dropped_oversize_samples: usize,
    /// pprofs split because of the size or sample limits.
    pub split_profiles: usize,
    pub renamed_sample_types: usize,
    pub sample_labels_dropped: usize,
    pub sanitized_sample_label_keys: usize,
    pub labels: LabelStats,
    pub from_otlp: FromOtlpStats,
}

fn nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i128::try_from(d.as_nanos()).unwrap_or(i128::MAX),
        Err(e) => -i128::try_from(e.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

fn has_scope_attr(sp: &ScopeProfiles, key: &str) -> bool {
    sp.scope
        .as_ref()
        .is_some_and(|s| s.attributes.iter().any(|kv| kv.key == key))
}

/// A fresh random id in the UUID v4 text form.
pub fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 16];
    for half in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u64(half);
        h.write_u128(nanos(SystemTime::now()).unsigned_abs());
        let v = h.finish().to_le_bytes();
        let start = usize::try_from(half).unwrap_or(0) * 8;
        if let Some(dst) = bytes.get_mut(start..start + 8) {
            dst.copy_from_slice(&v);
        }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let h = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

struct Builder<'a> {
    opts: &'a PrepareOptions,
    now: i128,
    stats: PrepareStats,
    index: HashMap<Vec<LabelPair>, usize>,
    series: Vec<PreparedSeries>,
}

impl Builder<'_> {
    fn add(&mut self, out: PprofOut, name: &ProfileName) {
        let PprofOut {
            profile: mut p,
            resource,
            scope,
        } = out;
        let o = self.opts;
        if p.sample_type.is_empty()
            || p.sample_type
                .iter()
                .all(|vt| p.string(vt.r#type).is_empty())
        {
            self.stats.dropped_no_sample_type += 1;
            return;
        }
        if let Some(period) = name.scale_by_period {
            series::scale_samples_to_cpu(&mut p, period);
        }
        self.stats.renamed_sample_types += series::fix_sample_type_names(&mut p);
        self.stats.sample_labels_dropped +=
            series::limit_sample_labels(&mut p, o.max_labels_per_sample);
        if p.sample.is_empty() {
            self.stats.dropped_empty += 1;
            return;
        }
        let t = i128::from(p.time_nanos);
        let mut deadline = None;
        if t > 0 {
            if !o.reject_older_than.is_zero() {
                let limit = i128::try_from(o.reject_older_than.as_nanos()).unwrap_or(i128::MAX);
                if t < self.now.saturating_sub(limit) {
                    self.stats.dropped_too_old += 1;
                    return;
                }
                let at = u64::try_from(t.saturating_add(limit)).unwrap_or(u64::MAX);
                deadline = UNIX_EPOCH.checked_add(Duration::from_nanos(at));
            }
            if !o.reject_newer_than.is_zero() {
                let limit = i128::try_from(o.reject_newer_than.as_nanos()).unwrap_or(i128::MAX);
                if t > self.now.saturating_add(limit) {
                    self.stats.dropped_too_new += 1;
                    return;
                }
            }
        }
        let type_ids: Vec<String> = (0..p.sample_type.len())
            .filter_map(|i| ProfileType::from_pprof(&p, i))
            .map(|t| t.id(&name.name))
            .collect();
        for (service, mut part) in series::split_by_sample_label(p, attr_keys::SERVICE_NAME) {
            // After the split, which reads the `service.name` key as it is.
            if o.labels.sanitize_label_names {
                self.stats.sanitized_sample_label_keys +=
                    series::sanitize_sample_label_keys(&mut part);
            }
            let info = SampleLabelInfo {
                service_name: service,
                promoted_keys: series::promoted_sample_label_keys(&part),
            };
            let labels =
                series::series_labels(&resource, scope.as_ref(), &name.name, &o.labels, &info);
            self.stats.labels.add(&labels.stats);
            let split =
                series::split_profile(part, o.max_profile_size_bytes, o.max_samples_per_profile);
            self.stats.dropped_oversize_samples += split.dropped_samples;
            if split.parts.len() > 1 {
                self.stats.split_profiles += 1;
            }
            let si = match self.index.get(&labels.labels) {
                Some(&i) => i,
                None => {
                    self.series.push(PreparedSeries {
                        labels: labels.labels.clone(),
                        profiles: Vec::new(),
                    });
                    self.index.insert(labels.labels, self.series.len() - 1);
                    self.series.len() - 1
                }
            };
            for q in split.parts {
                self.stats.sent_pprofs += 1;
                if let Some(s) = self.series.get_mut(si) {
                    s.profiles.push(PreparedProfile {
                        sample: RawSample {
                            raw_profile: pprof::encode_gzip(&q),
                            id: new_id(),
                        },
                        deadline,
                        type_ids: type_ids.clone(),
                    });
                }
            }
        }
    }
}

/// Turns a validated OTLP request into Pyroscope series (spec §3):
/// - one pprof per OTLP Profile; a ScopeProfiles carrying `pprof.scope.sample_type_order` is
///   reassembled into one multi-type pprof when all its profiles get the same `__name__` and need
///   no value rewrite (Pyroscope makes one series per sample type of it);
/// - names per [`series::profile_name`], with the `samples:count:cpu:nanoseconds` rewrite applied;
/// - samples split by their `service.name` attribute (§6 rule 3);
/// - sample types containing `-` renamed, sample labels limited, too old / too new / empty
///   profiles dropped, profiles over the size or sample limits split;
/// - pprofs with identical series labels grouped into one series.
pub fn prepare(
    req: &ExportProfilesServiceRequest,
    opts: &PrepareOptions,
    now: SystemTime,
) -> (Vec<PreparedSeries>, PrepareStats) {
    let empty = ProfilesDictionary::default();
    let dict = Dict::new(req.dictionary.as_ref().unwrap_or(&empty));
    let order_key = pprof::attr::SAMPLE_TYPE_ORDER;
    let mut names: Vec<Vec<ProfileName>> = Vec::new();
    let mut strip: Vec<(usize, usize)> = Vec::new();
    for (ri, rp) in req.resource_profiles.iter().enumerate() {
        for (si, sp) in rp.scope_profiles.iter().enumerate() {
            let ns: Vec<ProfileName> = sp
                .profiles
                .iter()
                .map(|p| series::profile_name(sp.scope.as_ref(), &ProfileType::from_otlp(p, dict)))
                .collect();
            if sp.profiles.len() > 1 && has_scope_attr(sp, order_key) {
                let same = ns.windows(2).all(|w| w[0].name == w[1].name);
                let plain = ns.iter().all(|n| n.scale_by_period.is_none());
                if !(same && plain) {
                    strip.push((ri, si));
                }
            }
            names.push(ns);
        }
    }
    let mut stats = PrepareStats {
        scopes_not_reassembled: strip.len(),
        ..Default::default()
    };
    let req: Cow<'_, ExportProfilesServiceRequest> = if strip.is_empty() {
        Cow::Borrowed(req)
    } else {
        let mut r = req.clone();
        for (ri, si) in strip {
            if let Some(scope) = r
                .resource_profiles
                .get_mut(ri)
                .and_then(|rp| rp.scope_profiles.get_mut(si))
                .and_then(|sp| sp.scope.as_mut())
            {
                scope.attributes.retain(|kv| kv.key != order_key);
            }
        }
        Cow::Owned(r)
    };
    let (outs, fstats) = pprof::from_otlp(&req);
    stats.from_otlp = fstats;
    stats.pprofs = outs.len();

    let mut b = Builder {
        opts,
        now: nanos(now),
        stats,
        index: HashMap::new(),
        series: Vec::new(),
    };
    // from_otlp emits, per scope in order, either one reassembled pprof (with one sample type per
    // profile) or one single-type pprof per profile.
    let mut outs = outs.into_iter().peekable();
    let scopes = req
        .resource_profiles
        .iter()
        .flat_map(|rp| &rp.scope_profiles);
    for (sp, ns) in scopes.zip(&names) {
        let n = sp.profiles.len();
        if n == 0 {
            continue;
        }
        let reassembled = n > 1
            && outs
                .peek()
                .is_some_and(|o| o.profile.sample_type.len() == n);
        let take = if reassembled { 1 } else { n };
        for name in ns.iter().take(take) {
            match outs.next() {
                Some(o) => b.add(o, name),
                None => break,
            }
        }
    }
    (b.series, b.stats)
}

/// Rough encoded size of a sample inside a request.
fn sample_size(p: &PreparedProfile) -> usize {
    p.sample.raw_profile.len() + p.sample.id.len() + 16
}

fn labels_size(labels: &[LabelPair]) -> usize {
    labels
        .iter()
        .map(|l| l.name.len() + l.value.len() + 8)
        .sum::<usize>()
        + 8
}

/// Packs series into requests of at most `max_bytes` (encoded, before body compression),
/// splitting a series' pprofs over several requests when needed. A single pprof larger than the
/// limit travels alone.
pub fn pack(series: Vec<PreparedSeries>, max_bytes: usize) -> Vec<Vec<PreparedSeries>> {
    let mut out: Vec<Vec<PreparedSeries>> = Vec::new();
    let mut cur: Vec<PreparedSeries> = Vec::new();
    let mut cur_size = 0usize;
    for s in series {
        let lsize = labels_size(&s.labels);
        let mut piece = PreparedSeries {
            labels: s.labels.clone(),
            profiles: Vec::new(),
        };
        let mut piece_size = lsize;
        for p in s.profiles {
            let ps = sample_size(&p);
            if cur_size + piece_size + ps > max_bytes
                && (!cur.is_empty() || !piece.profiles.is_empty())
            {
                if !piece.profiles.is_empty() {
                    cur.push(std::mem::replace(
                        &mut piece,
                        PreparedSeries {
                            labels: s.labels.clone(),
                            profiles: Vec::new(),
                        },
                    ));
                }
                out.push(std::mem::take(&mut cur));
                cur_size = 0;
                piece_size = lsize;
            }
            piece_size += ps;
            piece.profiles.push(p);
        }
        if !piece.profiles.is_empty() {
            cur.push(piece);
            cur_size += piece_size;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Drops pprofs that would reach the server after their deadline (`at` = the expected arrival).
/// Returns how many were dropped.
pub fn retain_fresh(series: &mut Vec<PreparedSeries>, at: SystemTime) -> usize {
    let mut dropped = 0;
    for s in series.iter_mut() {
        let before = s.profiles.len();
        s.profiles.retain(|p| p.deadline.is_none_or(|d| d > at));
        dropped += before - s.profiles.len();
    }
    series.retain(|s| !s.profiles.is_empty());
    dropped
}

/// The PushRequest for a set of series.
pub fn to_request(series: &[PreparedSeries]) -> PushRequest {
    PushRequest {
        series: series
            .iter()
            .map(|s| RawProfileSeries {
                labels: s.labels.clone(),
                samples: s.profiles.iter().map(|p| p.sample.clone()).collect(),
                annotations: Vec::new(),
            })
            .collect(),
    }
}
