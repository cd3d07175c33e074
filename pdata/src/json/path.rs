//! Error paths: where in the document a value sits, rendered only when an error occurs.

use std::fmt::Write as _;

use super::JsonError;

#[derive(Clone, Copy)]
pub(super) enum Seg<'p> {
    Root,
    Field(&'p str),
    Index(usize),
}

/// A location in the document as a linked list on the stack, rendered only when an error occurs.
#[derive(Clone, Copy)]
pub(super) struct Path<'p> {
    parent: Option<&'p Path<'p>>,
    seg: Seg<'p>,
}

impl<'p> Path<'p> {
    pub(super) const ROOT: Path<'static> = Path {
        parent: None,
        seg: Seg::Root,
    };

    pub(super) fn field<'s>(&'s self, name: &'s str) -> Path<'s> {
        Path {
            parent: Some(self),
            seg: Seg::Field(name),
        }
    }

    pub(super) fn index(&self, i: usize) -> Path<'_> {
        Path {
            parent: Some(self),
            seg: Seg::Index(i),
        }
    }

    pub(super) fn render(&self) -> String {
        let mut segs = Vec::new();
        let mut cur: Option<&Path<'_>> = Some(self);
        while let Some(p) = cur {
            segs.push(p.seg);
            cur = p.parent;
        }
        let mut s = String::new();
        for seg in segs.iter().rev() {
            match seg {
                Seg::Root => {}
                Seg::Field(name) => {
                    if !s.is_empty() {
                        s.push('.');
                    }
                    s.push_str(name);
                }
                Seg::Index(i) => {
                    let _ = write!(s, "[{i}]");
                }
            }
        }
        if s.is_empty() { "$".to_owned() } else { s }
    }

    pub(super) fn err(&self, message: impl Into<String>) -> JsonError {
        JsonError {
            path: self.render(),
            message: message.into(),
        }
    }
}
