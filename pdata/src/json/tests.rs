use super::path::Path;
use super::reader::{Json, Parser};
use super::scalar::{IntErr, parse_int_text};
use super::writer::push_str;

#[test]
fn int_text_exact() {
    assert_eq!(parse_int_text("0").ok(), Some(0));
    assert_eq!(parse_int_text("-0").ok(), Some(0));
    assert_eq!(
        parse_int_text("18446744073709551615").ok(),
        Some(u64::MAX.into())
    );
    assert_eq!(
        parse_int_text("-9223372036854775808").ok(),
        Some(i64::MIN.into())
    );
    assert_eq!(parse_int_text("1e3").ok(), Some(1000));
    assert_eq!(parse_int_text("1.500e3").ok(), Some(1500));
    assert_eq!(parse_int_text("12.0").ok(), Some(12));
    assert_eq!(parse_int_text("007").ok(), Some(7));
    assert_eq!(parse_int_text("0e999999999999999999999").ok(), Some(0));
    assert!(matches!(parse_int_text("1.5"), Err(IntErr::NotInteger)));
    assert!(matches!(parse_int_text("1e-1"), Err(IntErr::NotInteger)));
    assert!(matches!(parse_int_text("1e20"), Err(IntErr::Range)));
    assert!(matches!(
        parse_int_text("1e99999999999999999999"),
        Err(IntErr::Range)
    ));
    for bad in [
        "", "-", "abc", "1.", ".5", "1e", "+1", " 1", "1 ", "0x10", "1_0",
    ] {
        assert!(matches!(parse_int_text(bad), Err(IntErr::Syntax)), "{bad}");
    }
}

#[test]
fn path_rendering() {
    let root = Path::ROOT;
    assert_eq!(root.render(), "$");
    let a = root.field("resourceProfiles");
    let b = a.index(0);
    let c = b.field("scopeProfiles");
    let d = c.index(1);
    assert_eq!(d.render(), "resourceProfiles[0].scopeProfiles[1]");
}

#[test]
fn string_escapes_round_trip() {
    let s = "a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}é😀\u{2028}";
    let mut out = Vec::new();
    push_str(&mut out, s);
    let text = String::from_utf8(out.clone()).unwrap_or_default();
    assert!(text.contains("\\u0001") && text.contains("\\u001f"));
    let mut p = Parser {
        src: &text,
        pos: 0,
        depth: 0,
    };
    match p.parse_value() {
        Ok(Json::Str(back)) => assert_eq!(back, s),
        _ => panic!("string did not parse"),
    }
}

#[test]
fn surrogates() {
    let src = r#""\ud83d\ude00 \ud800 \udc00 \ud800\u0041""#;
    let mut p = Parser {
        src,
        pos: 0,
        depth: 0,
    };
    match p.parse_value() {
        Ok(Json::Str(s)) => assert_eq!(s, "😀 \u{fffd} \u{fffd} \u{fffd}A"),
        _ => panic!("string did not parse"),
    }
}
