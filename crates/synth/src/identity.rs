//! Direct identifiers and provider references, all synthetic.
//!
//! provider_refs number each lot's registrations in date order with small gaps; claims-only
//! participants take numbers in the same sequence, so their references are in no MI file. NI
//! numbers use a prefix that is never issued (twin.toml `ni_prefix`, `QQ`), so none is real.

use std::collections::BTreeSet;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::names::pool_for;
use crate::person::{Ctx, Person};
use crate::{Result, stream};

/// Letters a UK inward code may end with (no C, I, K, M, O, V).
const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// The provider reference of a participant, e.g. `WWH-000123`.
pub(crate) fn provider_ref(ctx: &Ctx, p: &Person) -> String {
    provider_ref_of_copy(ctx, p, 0)
}

/// The provider reference of a participant's `copy`-th copy in a scaled extract: the twin's
/// number plus `copy` × 10^`ref_digits`, so copy 0 is the twin's own reference and no two copies
/// in a lot share one (the twin's numbers stay below 10^`ref_digits`, checked when scaling).
pub(crate) fn provider_ref_of_copy(ctx: &Ctx, p: &Person, copy: u64) -> String {
    let lot = &ctx.lot_codes[p.lot];
    let prefix = ctx
        .cfg
        .lots
        .get(lot)
        .map(|l| l.ref_prefix.as_str())
        .unwrap_or(lot);
    let digits = ctx.cfg.identity.ref_digits;
    let number = u64::from(p.ref_num) + copy * 10u64.pow(digits as u32);
    format!("{prefix}-{number:0digits$}")
}

/// Numbers, names, postcodes and NI numbers for everyone (claims-only participants get numbers).
pub(crate) fn generate(ctx: &Ctx, persons: &mut [Person], seed: u64) -> Result<()> {
    let cfg = &ctx.cfg.identity;
    let mut rng = stream(seed, "identity:refs");
    for l in 0..ctx.lot_codes.len() {
        let mut members: Vec<usize> = (0..persons.len())
            .filter(|i| persons[*i].lot == l)
            .collect();
        members.sort_by_key(|i| (persons[*i].reg, *i));
        let mut n = rng.random_range(cfg.first_ref[0]..=cfg.first_ref[1].max(cfg.first_ref[0]));
        for i in members {
            persons[i].ref_num = n;
            n +=
                rng.random_range(cfg.ref_gap[0].max(1)..=cfg.ref_gap[1].max(cfg.ref_gap[0]).max(1));
        }
    }
    let mut rng = stream(seed, "identity:people");
    let mut ni_seen = BTreeSet::new();
    for p in persons.iter_mut().filter(|p| !p.claims_only) {
        let female = match p.latent.get("gender").or_else(|| p.values.get("gender")) {
            Some(g) => g == "F",
            None => rng.random_bool(0.5),
        };
        let pool = pool_for(p.ethnicity_latent.as_deref(), rng.random_bool(0.5));
        let firsts = if female { pool.female } else { pool.male };
        p.first_name = firsts[rng.random_range(0..firsts.len())].to_string();
        p.surname = pool.surnames[rng.random_range(0..pool.surnames.len())].to_string();
        p.postcode = postcode(ctx, p, &mut rng);
        p.ni_number = if rng.random::<f64>() < cfg.ni_number_share {
            Some(ni_number(&cfg.ni_prefix, &mut ni_seen, &mut rng))
        } else {
            None
        };
    }
    Ok(())
}

fn postcode(ctx: &Ctx, p: &Person, rng: &mut ChaCha8Rng) -> Option<String> {
    if rng.random::<f64>() < ctx.cfg.identity.postcode_blank_share {
        return None;
    }
    let outward = ctx
        .cfg
        .lots
        .get(&ctx.lot_codes[p.lot])?
        .outward_codes
        .clone();
    if outward.is_empty() {
        return None;
    }
    let o = &outward[rng.random_range(0..outward.len())];
    let letter =
        |rng: &mut ChaCha8Rng| INWARD_LETTERS[rng.random_range(0..INWARD_LETTERS.len())] as char;
    let digit = rng.random_range(0..10u8);
    Some(format!("{o} {digit}{}{}", letter(rng), letter(rng)))
}

fn ni_number(prefix: &str, seen: &mut BTreeSet<String>, rng: &mut ChaCha8Rng) -> String {
    loop {
        let digits: u32 = rng.random_range(0..1_000_000);
        let suffix = b"ABCD"[rng.random_range(0..4)] as char;
        let ni = format!("{prefix}{digits:06}{suffix}");
        if seen.insert(ni.clone()) {
            return ni;
        }
    }
}
