//! A small `multipart/form-data` reader for request bodies already held in memory.

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part<'a> {
    /// The `name` of its `Content-Disposition: form-data`.
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub body: &'a [u8],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MultipartError {
    #[error("multipart Content-Type has no boundary")]
    NoBoundary,
    #[error("malformed multipart body: {0}")]
    Malformed(&'static str),
}

/// The boundary parameter of a `multipart/form-data; boundary=...` content type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || from > hay.len() {
        return None;
    }
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn header_param(value: &str, key: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Splits a multipart body into its parts.
pub fn parse<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<Part<'a>>, MultipartError> {
    if boundary.is_empty() {
        return Err(MultipartError::NoBoundary);
    }
    let delim = format!("--{boundary}");
    let delim = delim.as_bytes();
    let mut pos = find(body, delim, 0).ok_or(MultipartError::Malformed("boundary not found"))?;
    let mut parts = Vec::new();
    loop {
        pos += delim.len();
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        // Skip the line break after the delimiter.
        if body[pos..].starts_with(b"\r\n") {
            pos += 2;
        } else if body[pos..].starts_with(b"\n") {
            pos += 1;
        } else {
            return Err(MultipartError::Malformed(
                "missing line break after boundary",
            ));
        }
        let (head_end, body_start) = match (find(body, b"\r\n\r\n", pos), find(body, b"\n\n", pos))
        {
            (Some(a), Some(b)) if b < a => (b, b + 2),
            (Some(a), _) => (a, a + 4),
            (None, Some(b)) => (b, b + 2),
            (None, None) => return Err(MultipartError::Malformed("part headers not terminated")),
        };
        let head = String::from_utf8_lossy(&body[pos..head_end]);
        let mut name = None;
        let mut filename = None;
        let mut content_type = None;
        for line in head.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                name = header_param(v, "name");
                filename = header_param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                content_type = Some(v.trim().to_owned());
            }
        }
        let next = find(body, delim, body_start)
            .ok_or(MultipartError::Malformed("closing boundary not found"))?;
        // The part body ends before the line break that precedes the next delimiter.
        let mut end = next;
        if end >= body_start + 2 && &body[end - 2..end] == b"\r\n" {
            end -= 2;
        } else if end > body_start && body[end - 1] == b'\n' {
            end -= 1;
        }
        parts.push(Part {
            name: name.unwrap_or_default(),
            filename,
            content_type,
            body: &body[body_start..end],
        });
        pos = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parts_with_binary_bodies() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"profile\"; filename=\"profile.pprof\"\r\nContent-Type: application/octet-stream\r\n\r\n\x1f\x8b\r\n\x00bin\r\n--XyZ\r\nContent-Disposition: form-data; name=\"sample_type_config\"\r\n\r\n{\"a\":1}\r\n--XyZ--\r\n";
        let parts = parse(body, "XyZ").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "profile");
        assert_eq!(parts[0].filename.as_deref(), Some("profile.pprof"));
        assert_eq!(parts[0].body, b"\x1f\x8b\r\n\x00bin");
        assert_eq!(parts[1].name, "sample_type_config");
        assert_eq!(parts[1].body, b"{\"a\":1}");
        assert_eq!(
            boundary("multipart/form-data; boundary=\"XyZ\""),
            Some("XyZ".into())
        );
    }

    #[test]
    fn malformed_bodies_error() {
        assert!(parse(b"nothing here", "b").is_err());
        assert!(
            parse(
                b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nunterminated",
                "b"
            )
            .is_err()
        );
        assert!(parse(b"--b", "").is_err());
    }
}
