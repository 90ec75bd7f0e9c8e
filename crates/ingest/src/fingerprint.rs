//! Fingerprints of keys, and the tallies and sets of them ingest keeps across a file's rows.
//!
//! Ingest keeps 16 bytes per participant, claim key and counted milestone, not the texts: at
//! 10M participants that is still about 30M claim keys and 27M milestones. Hash sets of them
//! were random writes into half a gigabyte each, a cache miss per row: a tenth of the claims'
//! first pass at 10M participants, and more under the other threads' load. Here a tally only
//! appends (sequential writes), then sorts once; membership is answered from the sorted
//! fingerprints through a directory of their leading bits.

use std::collections::HashMap;

/// A 128-bit fingerprint of a key: what ingest keeps per participant to find duplicates and
/// unmatched claims, so memory grows by 16 bytes a row, not by the key's length. Two keys share
/// a fingerprint with odds of about n²/2¹²⁹, nil for any extract; it never leaves memory, so the
/// hash may change between versions.
pub(crate) type Fingerprint = u128;

/// Maps from fingerprints. A fingerprint is a hash already, so the quickest hasher will do: the
/// standard one (SipHash) hashing it again was a tenth of the first pass.
pub(crate) type FingerprintMap<V> = HashMap<Fingerprint, V, foldhash::fast::RandomState>;

/// The fingerprint of a key. XXH3-128 is a 128-bit hash built for this (checksums, dedup) and
/// hashes a short key in a few nanoseconds; two SipHash passes, one per half, were 6% of ingest.
pub(crate) fn fingerprint(key: &str) -> Fingerprint {
    twox_hash::XxHash3_128::oneshot(key.as_bytes())
}

/// The fingerprint of a sequence of texts, read in upper case (ASCII).
pub(crate) fn fingerprint_upper(parts: &[&str]) -> Fingerprint {
    // Keys are short: copied upper-cased onto the stack and hashed once. A longer one (any text
    // can be in a hostile file) takes the heap.
    let len: usize = parts.iter().map(|p| p.len() + 1).sum();
    let mut stack = [0u8; 128];
    let mut heap = Vec::new();
    let buf: &mut [u8] = if len <= stack.len() {
        &mut stack[..len]
    } else {
        heap.resize(len, 0);
        &mut heap
    };
    let mut at = 0;
    for part in parts {
        for (to, b) in buf[at..].iter_mut().zip(part.bytes()) {
            *to = b.to_ascii_uppercase();
        }
        at += part.len();
        // Never a byte of UTF-8 text: the parts cannot run into each other.
        buf[at] = 0xFF;
        at += 1;
    }
    twox_hash::XxHash3_128::oneshot(buf)
}

/// Fingerprints gathered over a pass, to count once it ends.
#[derive(Default)]
pub(crate) struct Tally {
    all: Vec<Fingerprint>,
}

/// What a tally came to.
#[derive(Default)]
pub(crate) struct Counts {
    /// Every fingerprint seen, once.
    pub seen: FingerprintSet,
    /// The fingerprints seen more than once, with their number.
    pub repeated: FingerprintMap<u32>,
}

impl Tally {
    /// A tally with room for `n` fingerprints before it grows.
    pub fn with_capacity(n: usize) -> Tally {
        Tally {
            all: Vec::with_capacity(n),
        }
    }

    pub fn add(&mut self, fingerprint: Fingerprint) {
        self.all.push(fingerprint);
    }

    /// Sorts the fingerprints and counts them.
    pub fn count(mut self) -> Counts {
        let repeated = self.sort_and_count();
        Counts {
            seen: FingerprintSet::from_sorted(self.all),
            repeated,
        }
    }

    /// The fingerprints seen more than once, with their number: [`Tally::count`] without the
    /// set of every fingerprint, for a tally nothing looks up afterwards (a file's keys).
    pub fn repeated(mut self) -> FingerprintMap<u32> {
        self.sort_and_count()
    }

    /// Sorts the fingerprints, leaves each once, and returns the repeated ones' numbers.
    fn sort_and_count(&mut self) -> FingerprintMap<u32> {
        let all = &mut self.all;
        all.sort_unstable();
        let mut repeated = FingerprintMap::default();
        let mut distinct = 0;
        let mut i = 0;
        while i < all.len() {
            let f = all[i];
            let run = all[i..].iter().take_while(|&&g| g == f).count();
            if run > 1 {
                repeated.insert(f, u32::try_from(run).unwrap_or(u32::MAX));
            }
            all[distinct] = f;
            distinct += 1;
            i += run;
        }
        all.truncate(distinct);
        repeated
    }
}

/// A set of fingerprints, built once and then only read: the fingerprints sorted, and where
/// each value of their leading bits starts. A lookup reads the directory and the few
/// fingerprints of one bucket (about two cache misses, as a hash set's).
#[derive(Default)]
pub(crate) struct FingerprintSet {
    sorted: Vec<Fingerprint>,
    /// `starts[b]..starts[b + 1]`: the fingerprints whose leading `bits` bits are `b`.
    starts: Vec<u32>,
    bits: u32,
}

impl FingerprintSet {
    /// The set of `fingerprints`, sorted and without repeats.
    fn from_sorted(sorted: Vec<Fingerprint>) -> FingerprintSet {
        debug_assert!(sorted.windows(2).all(|w| w[0] < w[1]));
        // About two fingerprints a bucket. Positions are u32: a set of 4 billion fingerprints
        // (64 GB) is not one ingest can hold anyway; past that the directory has one bucket.
        let bits = if sorted.len() > u32::MAX as usize {
            0
        } else {
            (sorted.len() / 2).max(1).ilog2().min(26)
        };
        let mut set = FingerprintSet {
            sorted,
            starts: Vec::new(),
            bits,
        };
        let buckets = 1usize << bits;
        set.starts.reserve(buckets + 1);
        let mut at = 0;
        for b in 0..buckets {
            while at < set.sorted.len() && set.bucket(set.sorted[at]) < b {
                at += 1;
            }
            set.starts.push(at as u32);
        }
        set.starts.push(set.sorted.len() as u32);
        set
    }

    /// The set of `fingerprints`, in any order and with any repeats.
    pub fn new(mut fingerprints: Vec<Fingerprint>) -> FingerprintSet {
        fingerprints.sort_unstable();
        fingerprints.dedup();
        FingerprintSet::from_sorted(fingerprints)
    }

    /// The fingerprints again, to add to and make a new set of.
    pub fn into_vec(self) -> Vec<Fingerprint> {
        self.sorted
    }

    fn bucket(&self, f: Fingerprint) -> usize {
        if self.bits == 0 {
            0
        } else {
            (f >> (128 - self.bits)) as usize
        }
    }

    pub fn contains(&self, f: Fingerprint) -> bool {
        if self.sorted.len() > u32::MAX as usize {
            return self.sorted.binary_search(&f).is_ok();
        }
        let Some(range) = self.starts.get(self.bucket(f)..self.bucket(f) + 2) else {
            return false;
        };
        self.sorted[range[0] as usize..range[1] as usize]
            .binary_search(&f)
            .is_ok()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sorted.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_fingerprints_ignore_case_and_keep_the_parts_apart() {
        assert_eq!(
            fingerprint_upper(&["ab1", "Js"]),
            fingerprint_upper(&["AB1", "JS"])
        );
        assert_ne!(
            fingerprint_upper(&["AB", "CD"]),
            fingerprint_upper(&["ABC", "D"])
        );
        assert_ne!(fingerprint_upper(&["A"]), fingerprint_upper(&["B"]));
        // A key longer than the stack buffer is hashed whole, not cut short.
        let long = "x".repeat(200);
        let longer = format!("{long}y");
        assert_ne!(fingerprint_upper(&[&long]), fingerprint_upper(&[&longer]));
        assert_eq!(
            fingerprint_upper(&[&longer]),
            fingerprint_upper(&[&longer.to_uppercase()])
        );
        assert_ne!(fingerprint("a"), fingerprint("A"));
    }

    #[test]
    fn a_tally_counts_repeats_and_sees_each_fingerprint_once() {
        let mut tally = Tally::with_capacity(2);
        for f in [5u128, 1, 5, 9, 5, 1, u128::MAX, 0] {
            tally.add(f);
        }
        let counts = tally.count();
        assert_eq!(counts.repeated.len(), 2);
        assert_eq!(counts.repeated[&5], 3);
        assert_eq!(counts.repeated[&1], 2);
        assert_eq!(counts.seen.len(), 5);
        let mut keys = Tally::default();
        for f in [5u128, 1, 5, 9, 5, 1] {
            keys.add(f);
        }
        assert_eq!(keys.repeated(), counts.repeated);
        for f in [0u128, 1, 5, 9, u128::MAX] {
            assert!(counts.seen.contains(f), "{f}");
        }
        for f in [2u128, 4, 6, 10, u128::MAX - 1] {
            assert!(!counts.seen.contains(f), "{f}");
        }
    }

    #[test]
    fn a_set_finds_exactly_its_members_in_every_bucket() {
        // Fingerprints spread over the whole range, as hashes are, and bunched at both ends,
        // as they are not: every bucket boundary of the directory is crossed.
        let members: Vec<u128> = (0..5000u128)
            .map(|i| fingerprint(&i.to_string()))
            .chain(0..50)
            .chain((0..50).map(|i| u128::MAX - 2 * i))
            .collect();
        let set = FingerprintSet::new(members.iter().rev().copied().collect());
        assert_eq!(set.len(), members.len());
        assert!(set.bits > 8);
        assert!(members.iter().all(|&f| set.contains(f)));
        let strangers = (5000..10_000u128)
            .map(|i| fingerprint(&i.to_string()))
            .chain(50..60)
            .chain((0..50).map(|i| u128::MAX - 2 * i - 1));
        assert!(strangers.into_iter().all(|f| !set.contains(f)));
        assert!(!FingerprintSet::default().contains(0));
        assert!(!FingerprintSet::new(Vec::new()).contains(0));
        assert!(FingerprintSet::new(vec![7, 7]).contains(7));
    }
}
