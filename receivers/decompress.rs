//! Request body decompression with a limit on the decompressed size (decompression bombs).

use std::io::Read;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecompressError {
    #[error("unsupported Content-Encoding {0:?} (supported: gzip, zstd, zlib, deflate, identity)")]
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
        _ => Err(DecompressError::Unsupported(encoding.to_owned())),
    }
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
