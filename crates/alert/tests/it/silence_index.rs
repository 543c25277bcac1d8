//! The indexed `Silences::mutes`/`is_muted` against a brute-force scan of every silence, over
//! random silences (equality, regex alternatives, negative and empty-matching matchers), random
//! updates, expiries and garbage collection, and random alerts. Seeded, so a failure repeats.

use argus_alert::config::all_match;
use argus_alert::silence::{Silence, SilenceMatcher, SilenceState, Silences};
use argus_model::{Labels, SplitMix64};

type Rng = SplitMix64;

fn pick<'a>(r: &mut Rng, xs: &[&'a str]) -> &'a str {
    xs[r.index(xs.len())]
}

const NAMES: &[&str] = &["alertname", "job", "instance", "severity"];
const VALUES: &[&str] = &["a", "b", "c", "d", ""];

fn matcher(r: &mut Rng) -> SilenceMatcher {
    let name = pick(r, NAMES).to_string();
    let (is_regex, is_equal) = (r.index(3) == 0, r.index(4) != 0);
    let value = if is_regex {
        // Plain alternatives (indexable), sometimes with an empty one or a real regex.
        let pats = ["a|b", "c", "b|d|", "a.*", "x|y", "d|c|d"];
        pats[r.index(pats.len())].to_string()
    } else {
        pick(r, VALUES).to_string()
    };
    SilenceMatcher {
        name,
        value,
        is_regex,
        is_equal,
    }
}

fn labels(r: &mut Rng) -> Labels {
    let mut pairs = Vec::new();
    for n in NAMES {
        if r.index(4) != 0 {
            pairs.push((*n, pick(r, &VALUES[..4])));
        }
    }
    Labels::from_pairs(&pairs)
}

/// What a linear scan over every silence returns: active ones whose matchers all match, by id.
fn brute_force(s: &Silences, l: &Labels, now: i64) -> Vec<String> {
    let mut ids: Vec<String> = s
        .iter()
        .filter(|x| x.state(now) == SilenceState::Active)
        .filter(|x| {
            let ms: Vec<_> = x.matchers.iter().map(|m| m.compile().unwrap()).collect();
            all_match(&ms, l)
        })
        .map(|x| x.id.clone())
        .collect();
    ids.sort();
    ids
}

#[test]
fn indexed_mutes_equal_a_linear_scan() {
    let (mut muted, mut checked) = (0usize, 0usize);
    for seed in 0..20u64 {
        let mut r = Rng::new(seed);
        let mut s = Silences::default();
        let mut now = 1_000i64;
        for _ in 0..150 {
            now += r.index(50) as i64;
            let ids: Vec<String> = s.iter().map(|x| x.id.clone()).collect();
            match r.index(10) {
                // Update an existing silence: in place (same matchers) or replacing it.
                0 | 1 if !ids.is_empty() => {
                    let mut x = s.get(&ids[r.index(ids.len())]).unwrap().clone();
                    if r.index(2) == 0 {
                        x.matchers = (0..1 + r.index(3)).map(|_| matcher(&mut r)).collect();
                    }
                    x.ends_at = now + 1 + r.index(500) as i64;
                    let _ = s.set(x, now);
                }
                2 if !ids.is_empty() => {
                    let _ = s.expire(&ids[r.index(ids.len())], now);
                }
                3 => {
                    s.gc(now, r.index(300) as i64);
                }
                _ => {
                    let ms = (0..1 + r.index(3)).map(|_| matcher(&mut r)).collect();
                    let start = now - 100 + r.index(200) as i64;
                    let end = start + 1 + r.index(400) as i64;
                    let _ = s.set(Silence::new(ms, start, end, "t", "c"), now);
                }
            }
            for _ in 0..10 {
                let l = labels(&mut r);
                let at = now + r.index(200) as i64;
                let want = brute_force(&s, &l, at);
                assert_eq!(s.mutes(&l, at), want, "seed {seed}, labels {l:?}, at {at}");
                assert_eq!(s.is_muted(&l, at), !want.is_empty(), "seed {seed}, {l:?}");
                muted += usize::from(!want.is_empty());
                checked += 1;
            }
        }
    }
    // The inputs exercise both outcomes, so the comparison is not vacuous.
    assert!(
        muted > checked / 20 && muted < checked * 19 / 20,
        "{muted} of {checked} muted"
    );
}
