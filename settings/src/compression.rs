//! Compression (`configcompression`): the one [`Compression`] enum of the `compression` keys,
//! [`Compression::compress`] for what exporters send, and [`decompress`] for request bodies,
//! with a limit on the decompressed size (decompression bombs).
//!
//! The Collector's values are `none` (or empty), `gzip`, `zstd`, `zlib`, `deflate`, `snappy`
//! (the block format; Collectors read the framing format under that name too),
//! `x-snappy-framed` and `lz4` (the frame format); each transport supports a subset.

use std::io::Read;

use serde::Deserialize;

/// A `compression` setting. Decoding an unknown value fails and lists the allowed ones. The
/// default, `gzip`, is the Collector's for its client settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum Compression {
    #[serde(rename = "none", alias = "")]
    None,
    #[default]
    #[serde(rename = "gzip")]
    Gzip,
    #[serde(rename = "zstd")]
    Zstd,
    #[serde(rename = "zlib")]
    Zlib,
    #[serde(rename = "deflate")]
    Deflate,
    /// The snappy block format (what `Content-Encoding: snappy` means; Collectors read both).
    #[serde(rename = "snappy")]
    Snappy,
    /// The snappy framing format.
    #[serde(rename = "x-snappy-framed")]
    SnappyFramed,
    /// The LZ4 frame format.
    #[serde(rename = "lz4")]
    Lz4,
}

/// A `compression` value the component does not support.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported compression {value:?} ({allowed})")]
pub struct UnsupportedCompression {
    pub value: &'static str,
    pub allowed: String,
}

impl Compression {
    /// Every value, in the order errors list them.
    pub const ALL: [Compression; 8] = [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Zlib,
        Compression::Deflate,
        Compression::Snappy,
        Compression::SnappyFramed,
        Compression::Lz4,
        Compression::None,
    ];

    /// The config value (`none` for no compression).
    pub fn as_str(self) -> &'static str {
        self.header().unwrap_or("none")
    }

    /// The `Content-Encoding` / `grpc-encoding` value; `None` when uncompressed.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
            Compression::Zlib => Some("zlib"),
            Compression::Deflate => Some("deflate"),
            Compression::Snappy => Some("snappy"),
            Compression::SnappyFramed => Some("x-snappy-framed"),
            Compression::Lz4 => Some("lz4"),
        }
    }

    /// Ok when `self` is one of `allowed`; the error lists them.
    pub fn supported(self, allowed: &[Compression]) -> Result<(), UnsupportedCompression> {
        if allowed.contains(&self) {
            return Ok(());
        }
        Err(UnsupportedCompression {
            value: self.as_str(),
            allowed: allowed
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    pub fn compress(self, data: &[u8]) -> std::io::Result<Vec<u8>> {
        use std::io::Write;
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::fast(),
                );
                e.write_all(data)?;
                e.finish()
            }
            Compression::Zlib | Compression::Deflate => {
                let mut e = flate2::write::ZlibEncoder::new(
                    Vec::with_capacity(data.len() / 4),
                    flate2::Compression::fast(),
                );
                e.write_all(data)?;
                e.finish()
            }
            Compression::Zstd => zstd::encode_all(data, 3),
            Compression::Snappy => snap::raw::Encoder::new()
                .compress_vec(data)
                .map_err(std::io::Error::other),
            Compression::SnappyFramed => {
                let mut e = snap::write::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
                e.write_all(data)?;
                e.into_inner()
                    .map_err(|e| std::io::Error::other(e.to_string()))
            }
            Compression::Lz4 => {
                let mut e = lz4_flex::frame::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
                e.write_all(data)?;
                e.finish().map_err(std::io::Error::other)
            }
        }
    }

    /// Decompresses `body` to at most `limit` bytes.
    pub fn decompress(self, body: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
        decompress(self.header().unwrap_or(""), body, limit)
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for Compression {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecompressError {
    #[error(
        "unsupported Content-Encoding {0:?} (supported: gzip, zstd, zlib, deflate, snappy, x-snappy-framed, lz4, identity)"
    )]
    Unsupported(String),
    #[error("decompressed body exceeds the limit of {0} bytes")]
    TooLarge(usize),
    #[error("corrupt {encoding} body: {message}")]
    Corrupt { encoding: String, message: String },
}

fn read_limited(
    mut r: impl Read,
    limit: usize,
    encoding: &str,
) -> Result<Vec<u8>, DecompressError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    (&mut r)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| DecompressError::Corrupt {
            encoding: encoding.to_owned(),
            message: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(DecompressError::TooLarge(limit));
    }
    Ok(out)
}

/// Decodes `body` per an HTTP `Content-Encoding` value; the result is at most `limit` bytes.
pub fn decompress(encoding: &str, body: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let enc = encoding.trim().to_ascii_lowercase();
    match enc.as_str() {
        "" | "identity" => {
            if body.len() > limit {
                return Err(DecompressError::TooLarge(limit));
            }
            Ok(body.to_vec())
        }
        "gzip" | "x-gzip" => read_limited(flate2::read::MultiGzDecoder::new(body), limit, "gzip"),
        "zstd" => {
            let dec =
                zstd::stream::read::Decoder::new(body).map_err(|e| DecompressError::Corrupt {
                    encoding: "zstd".into(),
                    message: e.to_string(),
                })?;
            read_limited(dec, limit, "zstd")
        }
        // The Collector treats "deflate" as zlib; accept raw deflate streams too.
        "zlib" | "deflate" => match read_limited(flate2::read::ZlibDecoder::new(body), limit, &enc)
        {
            Err(DecompressError::Corrupt { .. }) if enc == "deflate" => {
                read_limited(flate2::read::DeflateDecoder::new(body), limit, "deflate")
            }
            other => other,
        },
        // Like the Collector: `snappy` is the block format, but a body that starts with the
        // framing format's stream identifier is read as framed (older Collectors sent that).
        "snappy" if body.starts_with(SNAPPY_STREAM_ID) => {
            read_limited(snap::read::FrameDecoder::new(body), limit, "snappy")
        }
        "snappy" => snappy_block(body, limit),
        "x-snappy-framed" => read_limited(
            snap::read::FrameDecoder::new(body),
            limit,
            "x-snappy-framed",
        ),
        "lz4" => read_limited(lz4_flex::frame::FrameDecoder::new(body), limit, "lz4"),
        _ => Err(DecompressError::Unsupported(encoding.to_owned())),
    }
}

/// The first chunk of every snappy framing-format stream.
const SNAPPY_STREAM_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";

/// A snappy block: its header states the decompressed length, checked against the limit before
/// anything is allocated.
fn snappy_block(body: &[u8], limit: usize) -> Result<Vec<u8>, DecompressError> {
    let corrupt = |e: snap::Error| DecompressError::Corrupt {
        encoding: "snappy".into(),
        message: e.to_string(),
    };
    let len = snap::raw::decompress_len(body).map_err(corrupt)?;
    if len > limit {
        return Err(DecompressError::TooLarge(limit));
    }
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(corrupt)
}

/// True when the bytes start with the gzip magic number.
pub fn is_gzip(body: &[u8]) -> bool {
    body.starts_with(&[0x1f, 0x8b])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_round_trip_and_bomb() {
        let data = vec![7u8; 1 << 20];
        let z = gz(&data);
        assert_eq!(decompress("gzip", &z, 1 << 20).unwrap(), data);
        assert_eq!(
            decompress("gzip", &z, (1 << 20) - 1),
            Err(DecompressError::TooLarge((1 << 20) - 1))
        );
    }

    #[test]
    fn zstd_and_zlib() {
        let data = b"hello profiles".repeat(100);
        let z = zstd::encode_all(&data[..], 3).unwrap();
        assert_eq!(decompress("zstd", &z, 10_000).unwrap(), data);
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&data).unwrap();
        let zl = e.finish().unwrap();
        assert_eq!(decompress("deflate", &zl, 10_000).unwrap(), data);
        assert_eq!(decompress("zlib", &zl, 10_000).unwrap(), data);
    }

    #[test]
    fn snappy_block_framed_and_lz4() {
        let data = b"profiles ".repeat(1000);
        let block = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        assert_eq!(decompress("snappy", &block, 9000).unwrap(), data);
        assert_eq!(
            decompress("snappy", &block, 8999),
            Err(DecompressError::TooLarge(8999))
        );
        let mut framed = snap::write::FrameEncoder::new(Vec::new());
        framed.write_all(&data).unwrap();
        let framed = framed.into_inner().unwrap();
        assert!(framed.starts_with(SNAPPY_STREAM_ID));
        assert_eq!(decompress("snappy", &framed, 9000).unwrap(), data);
        assert_eq!(decompress("x-snappy-framed", &framed, 9000).unwrap(), data);
        assert_eq!(
            decompress("x-snappy-framed", &framed, 100),
            Err(DecompressError::TooLarge(100))
        );
        let mut lz = lz4_flex::frame::FrameEncoder::new(Vec::new());
        lz.write_all(&data).unwrap();
        let lz = lz.finish().unwrap();
        assert_eq!(decompress("lz4", &lz, 9000).unwrap(), data);
        assert_eq!(
            decompress("lz4", &lz, 10),
            Err(DecompressError::TooLarge(10))
        );
        // A block header claiming 4 GiB is refused before any allocation.
        assert_eq!(
            decompress("snappy", &[0xff, 0xff, 0xff, 0xff, 0x0f], 1 << 20),
            Err(DecompressError::TooLarge(1 << 20))
        );
        for enc in ["snappy", "x-snappy-framed", "lz4"] {
            assert!(
                matches!(
                    decompress(enc, b"\x05garbage", 1 << 20),
                    Err(DecompressError::Corrupt { .. })
                ),
                "{enc}"
            );
        }
    }

    #[test]
    fn compress_round_trips() {
        let data = b"profiles and more profiles ".repeat(200);
        for c in Compression::ALL {
            let z = c.compress(&data).expect("compress");
            assert_eq!(
                c.decompress(&z, data.len()).expect("decompress"),
                data,
                "{c}"
            );
        }
    }

    #[test]
    fn config_values() {
        #[derive(Deserialize)]
        struct T {
            c: Compression,
        }
        let c = |v: &str| serde_json::from_value::<T>(serde_json::json!({ "c": v })).map(|t| t.c);
        assert_eq!(c("").ok(), Some(Compression::None));
        assert_eq!(c("none").ok(), Some(Compression::None));
        assert_eq!(c("x-snappy-framed").ok(), Some(Compression::SnappyFramed));
        let e = c("br").expect_err("unknown").to_string();
        assert!(e.contains("`gzip`") && e.contains("`lz4`"), "{e}");
        assert_eq!(
            Compression::Lz4
                .supported(&[Compression::Gzip, Compression::None])
                .expect_err("unsupported")
                .to_string(),
            "unsupported compression \"lz4\" (gzip, none)"
        );
        assert!(Compression::Gzip == "gzip");
    }

    #[test]
    fn corrupt_and_unknown() {
        assert!(matches!(
            decompress("gzip", b"\x1f\x8bnot gzip", 100),
            Err(DecompressError::Corrupt { .. })
        ));
        assert!(matches!(
            decompress("br", b"x", 100),
            Err(DecompressError::Unsupported(_))
        ));
        assert_eq!(decompress("", b"abc", 2), Err(DecompressError::TooLarge(2)));
    }
}
