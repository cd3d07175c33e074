//! The `stack_id` hash.
//!
//! The layout spec (`specs/parquet.md`) only asks for "a stable 64-bit hash of the frame
//! sequence (same stack ⇒ same id in every file)"; which fields it covers is profcol's choice,
//! fixed for schema version 1 (see [`crate::tables::Tables`]'s `stack_id`): every field of every
//! frame, in order.

/// The `stack_id` hash: each 64-bit word is folded in with the SplitMix64 finalizer; strings
/// are their length, then their bytes as little-endian words (zero padded). Fixed forever for
/// schema version 1, so ids agree across files, processes and releases.
pub struct StableHash(u64);

impl StableHash {
    pub fn new() -> StableHash {
        StableHash(u64::from_le_bytes(*b"profcol1"))
    }

    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn word(&mut self, w: u64) {
        self.0 = Self::mix(self.0.wrapping_add(0x9e37_79b9_7f4a_7c15) ^ w);
    }

    pub fn str(&mut self, s: &str) {
        self.word(s.len() as u64);
        for chunk in s.as_bytes().chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(b));
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

impl Default for StableHash {
    fn default() -> Self {
        StableHash::new()
    }
}
