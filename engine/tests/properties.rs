//! Property tests of the inference math (DESIGN §4, a contract).
//!
//! Two kinds of models: small random ones built directly from tables
//! (2–6 causes with the leak last, 1–5 evidence variables of 2–4 values,
//! strictly positive normalised likelihoods, some rows shared with the leak
//! as KB `default` rows are, 0–4 fixes), and the embedded
//! RDP KB driven through `session::State`. Every expected value is computed
//! here from its textbook definition, not with the engine's helpers.
//!
//! The runs are deterministic: every property has a fixed RNG seed and no
//! failure persistence files are written.

use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use rootcause_engine::Engine;
use rootcause_engine::infer::posterior::{self, Findings};
use rootcause_engine::infer::{EvidenceModel, FixModel, Model, OTHER, explain, gain, plan};
use rootcause_engine::session::{Source, State};

// ---------------------------------------------------------------------------
// Set-up

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::embedded().expect("the embedded KB loads"))
}

/// Build a random model from raw positive weights.
fn build(
    n: usize,
    evs: &[(usize, u8)],
    duplicate_first: bool,
    prior_w: &[f64],
    lik_w: &[f64],
    shared: &[bool],
    fixes: &[(u8, Vec<f64>)],
) -> Model {
    let mut causes: Vec<String> = (0..n - 1).map(|c| format!("c{c}")).collect();
    causes.push(OTHER.to_string());
    let z: f64 = prior_w.iter().sum();
    let prior: Vec<f64> = prior_w.iter().map(|w| w / z).collect();
    let mut evidence = Vec::new();
    let mut at = 0;
    for (i, &(k, cost)) in evs.iter().enumerate() {
        let mut lik = Vec::with_capacity(n * k);
        for _ in 0..n {
            let row = &lik_w[at..at + k];
            at += k;
            let s: f64 = row.iter().sum();
            lik.extend(row.iter().map(|w| w / s));
        }
        // Some causes share the leak's row exactly, as causes without a
        // likelihood of their own share the evidence's `default` in a KB.
        let leak_row: Vec<f64> = lik[(n - 1) * k..].to_vec();
        for c in 0..n - 1 {
            if shared[i * n + c] {
                lik[c * k..(c + 1) * k].copy_from_slice(&leak_row);
            }
        }
        evidence.push(EvidenceModel::from_table(
            format!("e{i}"),
            (0..k).map(|v| format!("v{v}")).collect(),
            cost as f64,
            true,
            None,
            lik,
        ));
    }
    if duplicate_first {
        // An exact copy (table and cost) of e0 at the end: its gain is
        // bit-for-bit that of e0, so ties must go to e0 (KB order).
        let e0 = &evidence[0];
        evidence.push(EvidenceModel::from_table(
            "dup".into(),
            e0.values.clone(),
            e0.cost,
            true,
            None,
            e0.lik.clone(),
        ));
    }
    let fixes = fixes
        .iter()
        .enumerate()
        .map(|(i, (cost, s))| {
            let mut success = s.clone();
            success.push(0.0); // nothing resolves `other`
            FixModel {
                id: format!("f{i}"),
                cost: *cost as f64,
                risk_cost: 0.0,
                primary: rootcause_engine::infer::primary_cause(&success),
                success,
            }
        })
        .collect();
    Model::from_parts(causes, prior, evidence, fixes, 0.9, 0.01, 20)
}

fn model_strategy() -> impl Strategy<Value = Model> {
    (
        2usize..=6,
        prop::collection::vec((2usize..=4, 1u8..=4), 1..=5),
        0usize..=4,
        any::<bool>(),
    )
        .prop_flat_map(|(n, evs, nf, dup)| {
            let cells: usize = evs.iter().map(|(k, _)| k * n).sum();
            let rows = evs.len() * n;
            let success = prop_oneof![1 => Just(0.0), 3 => 0.0f64..0.95];
            (
                Just(n),
                Just(evs),
                Just(dup),
                prop::collection::vec(0.01f64..1.0, n),
                prop::collection::vec(0.01f64..1.0, cells),
                prop::collection::vec(prop::bool::weighted(0.35), rows),
                prop::collection::vec((1u8..=5, prop::collection::vec(success, n - 1)), nf),
            )
        })
        .prop_map(|(n, evs, dup, pw, lw, sh, fx)| build(n, &evs, dup, &pw, &lw, &sh, &fx))
}

type Picks = Vec<(u32, u32)>;

fn picks(max: usize) -> impl Strategy<Value = Picks> {
    prop::collection::vec((any::<u32>(), any::<u32>()), 0..=max)
}

/// Distinct (evidence, value) pairs from raw picks.
fn observed_from(model: &Model, picks: &[(u32, u32)]) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for &(a, b) in picks {
        let e = a as usize % model.evidence.len();
        let v = b as usize % model.evidence[e].arity();
        if out.iter().all(|&(x, _)| x != e) {
            out.push((e, v));
        }
    }
    out
}

fn failed_from(model: &Model, picks: &[u32]) -> Vec<usize> {
    let mut out = Vec::new();
    if model.fixes.is_empty() {
        return out;
    }
    for &p in picks {
        let f = p as usize % model.fixes.len();
        if !out.contains(&f) {
            out.push(f);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Textbook definitions, written out here

/// `P(c | obs)` by Bayes' rule on plain products.
fn direct_posterior(model: &Model, observed: &[(usize, usize)], failed: &[usize]) -> Vec<f64> {
    let w = direct_weights(model, observed, failed);
    let z: f64 = w.iter().sum();
    w.iter().map(|x| x / z).collect()
}

/// Unnormalised `P(c, obs)`.
fn direct_weights(model: &Model, observed: &[(usize, usize)], failed: &[usize]) -> Vec<f64> {
    (0..model.n_causes())
        .map(|c| {
            let mut w = model.prior[c];
            for &(e, v) in observed {
                let ev = &model.evidence[e];
                w *= ev.lik[c * ev.values.len() + v];
            }
            for &f in failed {
                w *= 1.0 - model.fixes[f].success[c];
            }
            w
        })
        .collect()
}

fn h(p: &[f64]) -> f64 {
    p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.log2()).sum()
}

/// `H(C) − Σ_v P(v) H(C | v)`.
fn direct_gain(model: &Model, post: &[f64], e: usize) -> f64 {
    let ev = &model.evidence[e];
    let k = ev.values.len();
    let mut after = 0.0;
    for v in 0..k {
        let joint: Vec<f64> = (0..post.len())
            .map(|c| post[c] * ev.lik[c * k + v])
            .collect();
        let pv: f64 = joint.iter().sum();
        if pv > 0.0 {
            let cond: Vec<f64> = joint.iter().map(|j| j / pv).collect();
            after += pv * h(&cond);
        }
    }
    h(post) - after
}

/// Expected cost of repair by conditioning: try the first fix; if it fails
/// (probability `Σ P(c)(1 − s)`), continue with the posterior given that.
fn direct_ecr(model: &Model, post: &[f64], order: &[usize]) -> f64 {
    let Some((&first, rest)) = order.split_first() else {
        return 0.0;
    };
    let fix = &model.fixes[first];
    let fail: Vec<f64> = post
        .iter()
        .zip(&fix.success)
        .map(|(p, s)| p * (1.0 - s))
        .collect();
    let p_fail: f64 = fail.iter().sum();
    if p_fail <= 0.0 {
        return fix.cost;
    }
    let cond: Vec<f64> = fail.iter().map(|x| x / p_fail).collect();
    fix.cost + p_fail * direct_ecr(model, &cond, rest)
}

/// Untried fixes with `P(works) > 0`, sorted by `P/C` descending, ties by index.
fn direct_plan(model: &Model, post: &[f64], tried: &[usize]) -> Vec<(usize, f64)> {
    let mut out: Vec<(usize, f64)> = (0..model.fixes.len())
        .filter(|f| !tried.contains(f))
        .map(|f| {
            let p: f64 = (0..post.len())
                .map(|c| post[c] * model.fixes[f].success[c])
                .sum();
            (f, p)
        })
        .filter(|&(_, p)| p > 0.0)
        .collect();
    out.sort_by(|a, b| {
        let (ra, rb) = (a.1 / model.fixes[a.0].cost, b.1 / model.fixes[b.0].cost);
        rb.partial_cmp(&ra).unwrap().then(a.0.cmp(&b.0))
    });
    out
}

fn assert_close(a: &[f64], b: &[f64], tol: f64) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        prop_assert!(
            (x - y).abs() <= tol,
            "index {}: {} vs {} (tol {})",
            i,
            x,
            y,
            tol
        );
    }
    Ok(())
}

fn check_distribution(p: &[f64]) -> Result<(), TestCaseError> {
    let s: f64 = p.iter().sum();
    prop_assert!((s - 1.0).abs() <= 1e-12, "sums to {}", s);
    for &x in p {
        prop_assert!((0.0..=1.0).contains(&x), "probability {} outside [0,1]", x);
    }
    Ok(())
}

/// Brute-force check of a chosen question: maximal gain/cost by the direct
/// definition, and the first (lowest index) of the exact maxima of the
/// engine's own scores.
fn check_choice(
    model: &Model,
    post: &[f64],
    candidates: &[usize],
    chosen: gain::Scored,
) -> Result<(), TestCaseError> {
    check_choice_with(model, post, candidates, chosen, &|e| {
        model.evidence[e].answerability
    })
}

/// As [`check_choice`], with the answerability of each candidate.
fn check_choice_with(
    model: &Model,
    post: &[f64],
    candidates: &[usize],
    chosen: gain::Scored,
    answerability: &dyn Fn(usize) -> f64,
) -> Result<(), TestCaseError> {
    prop_assert!(candidates.contains(&chosen.evidence));
    let cost = |e: usize| model.evidence[e].cost / answerability(e);
    let best_direct = candidates
        .iter()
        .map(|&e| direct_gain(model, post, e) / cost(e))
        .fold(f64::NEG_INFINITY, f64::max);
    let chosen_direct = direct_gain(model, post, chosen.evidence) / cost(chosen.evidence);
    prop_assert!(
        chosen_direct >= best_direct - 1e-9,
        "chose {} with score {} but the best is {}",
        chosen.evidence,
        chosen_direct,
        best_direct
    );
    prop_assert!((chosen.gain - direct_gain(model, post, chosen.evidence)).abs() <= 1e-9);
    prop_assert!((chosen.score - chosen.gain * chosen.answerability / chosen.cost).abs() <= 1e-15);
    // Ties: KB order, on the engine's (deterministic) scores.
    let score = |e: usize| gain::expected_gain(model, post, e) / cost(e);
    for &e in candidates {
        if e < chosen.evidence {
            prop_assert!(
                score(e) < chosen.score + 1e-12,
                "{} (score {}) precedes the chosen {} (score {})",
                e,
                score(e),
                chosen.evidence,
                chosen.score
            );
        } else {
            prop_assert!(score(e) <= chosen.score + 1e-12);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Random models

proptest! {
    #![proptest_config(config(256, 0x5eed_0001))]

    #[test]
    fn posterior_is_a_distribution_and_is_bayes_rule(
        model in model_strategy(),
        obs in picks(6),
        failed in prop::collection::vec(any::<u32>(), 0..3),
    ) {
        check_distribution(&model.prior)?;
        let observed = observed_from(&model, &obs);
        let failed = failed_from(&model, &failed);
        let f = Findings { observed: observed.clone(), failed_fixes: failed.clone(), worked_fixes: vec![] };
        let (post, contradiction) = posterior::posterior(&model, &f);
        prop_assert!(!contradiction);
        check_distribution(&post)?;
        assert_close(&post, &direct_posterior(&model, &observed, &failed), 1e-12)?;
        // The ranking is a permutation sorted by probability.
        let r = posterior::ranking(&post);
        prop_assert_eq!(r.len(), post.len());
        for w in r.windows(2) {
            prop_assert!(post[w[0]] > post[w[1]] || (post[w[0]] == post[w[1]] && w[0] < w[1]));
        }
    }

    #[test]
    fn observation_order_does_not_matter(
        (model, obs, perm) in (model_strategy(), picks(6)).prop_flat_map(|(m, p)| {
            let observed = observed_from(&m, &p);
            let shuffled = Just(observed.clone()).prop_shuffle();
            (Just(m), Just(observed), shuffled)
        }),
    ) {
        let a = posterior::posterior(&model, &Findings { observed: obs.clone(), ..Findings::default() }).0;
        let b = posterior::posterior(&model, &Findings { observed: perm.clone(), ..Findings::default() }).0;
        assert_close(&a, &b, 1e-12)?;
        // Sequential Bayes updates in either order agree too.
        let mut s1 = model.prior.clone();
        for &(e, v) in &obs { s1 = posterior::update(&model, &s1, e, v); }
        let mut s2 = model.prior.clone();
        for &(e, v) in &perm { s2 = posterior::update(&model, &s2, e, v); }
        assert_close(&s1, &s2, 1e-12)?;
        assert_close(&s1, &a, 1e-12)?;
    }

    #[test]
    fn expected_gain_equals_the_definition(
        model in model_strategy(),
        obs in picks(5),
    ) {
        let observed = observed_from(&model, &obs);
        let post = direct_posterior(&model, &observed, &[]);
        for e in 0..model.evidence.len() {
            let fast = gain::expected_gain(&model, &post, e);
            let slow = gain::expected_gain_direct(&model, &post, e);
            let mine = direct_gain(&model, &post, e);
            prop_assert!(fast >= 0.0, "negative gain {}", fast);
            prop_assert!((fast - slow).abs() <= 1e-9, "{} vs {}", fast, slow);
            prop_assert!((fast - mine).abs() <= 1e-9, "{} vs {}", fast, mine);
            // No question can tell more than there is to know.
            prop_assert!(fast <= h(&post) + 1e-9);
        }
    }

    #[test]
    fn best_question_has_maximal_gain_per_cost(
        model in model_strategy(),
        obs in picks(4),
        mask in any::<u8>(),
    ) {
        let observed = observed_from(&model, &obs);
        let post = direct_posterior(&model, &observed, &[]);
        let candidates: Vec<usize> = (0..model.evidence.len())
            .filter(|&e| mask & (1 << e) != 0 || e == 0)
            .collect();
        let cands = || candidates.iter().map(|&e| gain::Candidate::of(&model, e));
        let best = gain::best_question(&model, &post, cands());
        let best = best.expect("a non-empty candidate set has a best question");
        check_choice(&model, &post, &candidates, best)?;
        // The duplicate of e0 never wins over e0.
        if model.evidence.last().unwrap().id == "dup" {
            prop_assert_ne!(best.evidence, model.evidence.len() - 1);
        }
        // rank_questions agrees with best_question.
        let ranked = gain::rank_questions(&model, &post, cands());
        prop_assert_eq!(ranked.len(), candidates.len());
        prop_assert_eq!(ranked[0], best);
        prop_assert!(gain::best_question(&model, &post, std::iter::empty()).is_none());
    }

    #[test]
    fn contributions_telescope(
        model in model_strategy(),
        obs in picks(5),
        failed in prop::collection::vec(any::<u32>(), 0..3),
        cause in any::<u32>(),
    ) {
        let observed = observed_from(&model, &obs);
        let failed = failed_from(&model, &failed);
        let cause = cause as usize % model.n_causes();
        let mut factors: Vec<explain::Factor> = observed
            .iter()
            .map(|&(e, v)| explain::observation_factor(&model, e, v))
            .collect();
        factors.extend(failed.iter().map(|&f| explain::fix_factor(&model, f, false)));
        let contribs = explain::contributions(&model, &factors, cause);
        prop_assert_eq!(contribs.len(), factors.len());
        let sum: f64 = contribs.iter().map(|k| k.bits).sum();
        // log2 odds from unnormalised weights, so no 1 − p cancellation here.
        let log_odds = |w: &[f64]| {
            let others: f64 = w.iter().enumerate().filter(|&(c, _)| c != cause).map(|(_, x)| x).sum();
            w[cause].log2() - others.log2()
        };
        let expect = log_odds(&direct_weights(&model, &observed, &failed)) - log_odds(&model.prior);
        prop_assert!((sum - expect).abs() <= 1e-9, "sum of bits {} vs change of log2 odds {}", sum, expect);
        // Each step: the cause's probability before and after that finding.
        let mut p = model.prior[cause];
        for (i, k) in contribs.iter().enumerate() {
            prop_assert!((k.p_before - p).abs() <= 1e-12);
            let upto = direct_posterior(&model, &observed[..i.min(observed.len())], &failed[..i.saturating_sub(observed.len())]);
            prop_assert!((k.p_before - upto[cause]).abs() <= 1e-12);
            prop_assert!(k.bits.is_finite());
            p = k.p_after;
        }
        let post = direct_posterior(&model, &observed, &failed);
        prop_assert!((p - post[cause]).abs() <= 1e-12);
    }

    #[test]
    fn fix_plan_order_and_expected_cost(
        model in model_strategy(),
        obs in picks(4),
        tried in prop::collection::vec(any::<u32>(), 0..3),
        q in any::<u32>(),
    ) {
        let observed = observed_from(&model, &obs);
        let tried = failed_from(&model, &tried);
        let post = direct_posterior(&model, &observed, &tried);
        let p = plan::plan(&model, &post, &tried);
        let expect = direct_plan(&model, &post, &tried);
        prop_assert_eq!(
            p.iter().map(|x| x.fix).collect::<Vec<_>>(),
            expect.iter().map(|x| x.0).collect::<Vec<_>>()
        );
        for (step, (_, pw)) in p.iter().zip(&expect) {
            prop_assert!(!tried.contains(&step.fix));
            prop_assert!((step.p_works - pw).abs() <= 1e-12);
            prop_assert!(step.p_works > 0.0 && step.p_works <= 1.0 + 1e-12);
            prop_assert_eq!(step.cost, model.fixes[step.fix].cost);
        }
        for w in p.windows(2) {
            prop_assert!(w[0].p_works / w[0].cost >= w[1].p_works / w[1].cost);
        }
        let order: Vec<usize> = p.iter().map(|x| x.fix).collect();
        let ecr = plan::ecr(&model, &post, &p);
        let direct = direct_ecr(&model, &post, &order);
        prop_assert!((ecr - direct).abs() <= 1e-9, "ecr {} vs {}", ecr, direct);
        // ECO(q) = cost(q) + Σ_v P(v) · ECR(plan after q = v), for an unobserved q.
        let e = q as usize % model.evidence.len();
        if !observed.iter().any(|&(x, _)| x == e) {
            let ev = &model.evidence[e];
            let k = ev.values.len();
            let mut eco = ev.cost;
            for v in 0..k {
                let pv: f64 = (0..post.len()).map(|c| post[c] * ev.lik[c * k + v]).sum();
                let mut obs_v = observed.clone();
                obs_v.push((e, v));
                let after = direct_posterior(&model, &obs_v, &tried);
                let order: Vec<usize> = direct_plan(&model, &after, &tried).iter().map(|x| x.0).collect();
                eco += pv * direct_ecr(&model, &after, &order);
            }
            let got = plan::eco(&model, &post, e, &tried, 1.0);
            prop_assert!((got - eco).abs() <= 1e-9, "eco {} vs {}", got, eco);
        }
    }
}

/// Telescoping must hold near certainty too, where `1 − P(c)` cancels
/// (with 8 findings the odds of c0 exceed 2^53, so P(c0) rounds to 1).
#[test]
fn contributions_telescope_near_certainty() {
    let lik = |strong: f64| {
        // cause 0 favours v0 strongly; the others and `other` favour v1.
        vec![
            strong,
            1.0 - strong,
            1.0 - strong,
            strong,
            0.5 * (1.0 - strong),
            1.0 - 0.5 * (1.0 - strong),
        ]
    };
    let evidence: Vec<EvidenceModel> = [0.999, 0.99, 0.995, 0.98, 0.999, 0.997, 0.999, 0.999]
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            EvidenceModel::from_table(
                format!("e{i}"),
                vec!["v0".into(), "v1".into()],
                1.0,
                true,
                None,
                lik(s),
            )
        })
        .collect();
    let model = Model::from_parts(
        vec!["c0".into(), "c1".into(), OTHER.into()],
        vec![0.5, 0.45, 0.05],
        evidence,
        vec![],
        0.9,
        0.01,
        20,
    );
    for n in 1..=8 {
        let observed: Vec<(usize, usize)> = (0..n).map(|e| (e, 0)).collect();
        let factors: Vec<explain::Factor> = observed
            .iter()
            .map(|&(e, v)| explain::observation_factor(&model, e, v))
            .collect();
        for cause in 0..3 {
            let sum: f64 = explain::contributions(&model, &factors, cause)
                .iter()
                .map(|k| k.bits)
                .sum();
            let log_odds = |w: &[f64]| {
                let others: f64 = w
                    .iter()
                    .enumerate()
                    .filter(|&(c, _)| c != cause)
                    .map(|(_, x)| x)
                    .sum();
                w[cause].log2() - others.log2()
            };
            let expect = log_odds(&direct_weights(&model, &observed, &[])) - log_odds(&model.prior);
            assert!(
                (sum - expect).abs() <= 1e-9,
                "{n} findings, cause {cause}: sum of bits {sum} vs change of log2 odds {expect}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The embedded KB, through session::State

/// Distinct (evidence id, value) answers from raw picks; any evidence, askable or not.
fn answers(picks: &[(u32, u32)]) -> Vec<(String, String)> {
    let kb = &engine().kb;
    let mut out: Vec<(String, String)> = Vec::new();
    for &(a, b) in picks {
        let e = &kb.evidence[a as usize % kb.evidence.len()];
        let v = &e.values[b as usize % e.values.len()];
        if out.iter().all(|(x, _)| x != &e.id) {
            out.push((e.id.clone(), v.clone()));
        }
    }
    out
}

fn state_with(answers: &[(String, String)]) -> State {
    let engine = engine();
    let mut s = State::new(engine);
    for (e, v) in answers {
        s.observe(engine, e, v, Source::User)
            .expect("a valid answer");
    }
    s
}

fn post_of(s: &State) -> Vec<f64> {
    let a = s.assess(engine());
    assert!(!a.contradiction);
    a.posterior
}

#[test]
fn embedded_model_is_well_formed() {
    let m = &engine().model;
    assert_eq!(m.causes.last().map(String::as_str), Some(OTHER));
    assert!((m.prior.iter().sum::<f64>() - 1.0).abs() <= 1e-12);
    for ev in &m.evidence {
        for c in 0..m.n_causes() {
            let row: f64 = (0..ev.arity()).map(|v| ev.p(c, v)).sum();
            assert!((row - 1.0).abs() <= 1e-9, "{} row {c} sums to {row}", ev.id);
        }
    }
    // A fresh state is the prior (through log space, so to 1e-12).
    let s = State::new(engine());
    for (a, b) in post_of(&s).iter().zip(&m.prior) {
        assert!((a - b).abs() <= 1e-12, "{a} vs {b}");
    }
}

proptest! {
    #![proptest_config(config(128, 0x5eed_0002))]

    #[test]
    fn kb_posterior_is_a_distribution(obs in picks(10)) {
        let a = answers(&obs);
        let post = post_of(&state_with(&a));
        check_distribution(&post)?;
        // And it is Bayes' rule on the model tables.
        let m = &engine().model;
        let idx: Vec<(usize, usize)> = a
            .iter()
            .map(|(e, v)| {
                let i = m.evidence_index(e).unwrap();
                (i, m.evidence[i].value_index(v).unwrap())
            })
            .collect();
        assert_close(&post, &direct_posterior(m, &idx, &[]), 1e-12)?;
    }

    #[test]
    fn kb_observe_then_retract_restores(base in picks(5), extra in picks(6)) {
        let engine = engine();
        let base = answers(&base);
        let extra: Vec<(String, String)> = answers(&extra)
            .into_iter()
            .filter(|(e, _)| base.iter().all(|(b, _)| b != e))
            .collect();
        // From nothing: back to the prior exactly.
        let mut s = state_with(&extra);
        for (e, _) in extra.iter().rev() {
            s.retract(engine, e).unwrap();
        }
        assert_close(&post_of(&s), &engine.model.prior, 1e-12)?;
        prop_assert!(s.observations.is_empty());
        // From a base: back to the base posterior.
        let mut s = state_with(&base);
        let before = post_of(&s);
        for (e, v) in &extra {
            s.observe(engine, e, v, Source::User).unwrap();
        }
        for (e, _) in &extra {
            s.retract(engine, e).unwrap();
        }
        assert_close(&post_of(&s), &before, 1e-12)?;
        // Retracting what was never observed is a no-op.
        let mut s2 = state_with(&base);
        let unseen = engine.kb.evidence.iter().find(|e| base.iter().all(|(b, _)| b != &e.id));
        if let Some(u) = unseen {
            s2.retract(engine, &u.id).unwrap();
            prop_assert_eq!(post_of(&s2), before.clone());
        }
    }

    #[test]
    fn kb_observation_order_does_not_matter(
        (a, b) in picks(10).prop_flat_map(|p| {
            let a = answers(&p);
            (Just(a.clone()), Just(a).prop_shuffle())
        }),
    ) {
        assert_close(&post_of(&state_with(&a)), &post_of(&state_with(&b)), 1e-12)?;
    }

    #[test]
    fn kb_unknown_is_a_no_op(base in picks(6), unknowns in prop::collection::vec((any::<u32>(), 0u8..3), 1..4)) {
        let engine = engine();
        let base = answers(&base);
        let mut s = state_with(&base);
        let before = s.assess(engine);
        for &(pick, spelling) in &unknowns {
            let e = &engine.kb.evidence[pick as usize % engine.kb.evidence.len()];
            if base.iter().any(|(b, _)| b == &e.id) {
                continue;
            }
            let word = ["unknown", "UNKNOWN", "?"][spelling as usize];
            s.observe(engine, &e.id, word, Source::User).unwrap();
            prop_assert_eq!(s.value_of(&e.id), Some("unknown"));
            let idx = engine.model.evidence_index(&e.id).unwrap();
            prop_assert!(!s.candidates(engine).contains(&idx), "{} answered unknown is still asked", e.id);
        }
        let after = s.assess(engine);
        prop_assert_eq!(&after.posterior, &before.posterior);
        prop_assert_eq!(&after.plan, &before.plan);
    }

    #[test]
    fn kb_next_question_is_the_best(obs in picks(8)) {
        let engine = engine();
        let m = &engine.model;
        let s = state_with(&answers(&obs));
        let a = s.assess(engine);
        let candidates = s.candidates(engine);
        for &e in &candidates {
            prop_assert!(m.evidence[e].askable);
            prop_assert!(s.value_of(&m.evidence[e].id).is_none());
        }
        let top = a.posterior[a.ranking[0]];
        match a.done {
            None => {
                let next = a.next.expect("not done, so there is a next question");
                check_choice_with(m, &a.posterior, &candidates, next, &|e| {
                    s.answerability(engine, e)
                })?;
                prop_assert!(next.gain > m.min_gain_bits);
                prop_assert!(top < m.threshold);
            }
            Some(d) => {
                prop_assert!(a.next.is_none());
                if d == rootcause_engine::session::Done::Threshold {
                    prop_assert!(top >= m.threshold);
                }
            }
        }
    }

    #[test]
    fn kb_explanation_telescopes(obs in picks(8), failed in prop::collection::vec(any::<u32>(), 0..3), cause in any::<u32>()) {
        let engine = engine();
        let m = &engine.model;
        let a = answers(&obs);
        let mut s = state_with(&a);
        let failed = failed_from(m, &failed);
        for &f in &failed {
            s.fix_result(engine, &m.fixes[f].id, false).unwrap();
        }
        let c = cause as usize % m.n_causes();
        let x = engine.explain_cause(&s, &m.causes[c]).unwrap();
        prop_assert_eq!(x.contributions.len(), a.len() + failed.len());
        let sum: f64 = x.contributions.iter().map(|i| i.bits).sum();
        prop_assert!((sum - x.total_bits).abs() <= 1e-12);
        let idx: Vec<(usize, usize)> = a
            .iter()
            .map(|(e, v)| {
                let i = m.evidence_index(e).unwrap();
                (i, m.evidence[i].value_index(v).unwrap())
            })
            .collect();
        let log_odds = |w: &[f64]| {
            let others: f64 = w.iter().enumerate().filter(|&(i, _)| i != c).map(|(_, x)| x).sum();
            w[c].log2() - others.log2()
        };
        let expect = log_odds(&direct_weights(m, &idx, &failed)) - log_odds(&m.prior);
        prop_assert!((sum - expect).abs() <= 1e-9, "{} vs {}", sum, expect);
        let post = direct_posterior(m, &idx, &failed);
        prop_assert!((x.probability - post[c]).abs() <= 1e-12);
        prop_assert_eq!(x.prior, m.prior[c]);
    }
}
