//! Request body decompression with a limit on the decompressed size (decompression bombs).

use std::io::Read;

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
