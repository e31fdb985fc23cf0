//! One inference step (observe + rank + pick the next question) on the RDP
//! KB and on synthetic KBs of 1,000 × 100 and 10,000 × 1,000 (causes ×
//! evidence), made by the generator below. Figures: docs/performance.md.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rootcause_engine::eval::simulate::Rng;
use rootcause_engine::infer::{gain, posterior};
use rootcause_engine::kb::model::*;
use rootcause_engine::session::{Source, State};
use rootcause_engine::{Engine, Kb, KbSource};

/// A random KB: `n` causes, `m` yes/no questions, each question with its own
/// likelihoods for `per_evidence` causes (the rest use the default), and one
/// fix per 100 causes.
pub fn synthetic(n: usize, m: usize, per_evidence: usize, seed: u64) -> Engine {
    let mut rng = Rng::new(seed);
    let causes: Vec<Cause> = (0..n)
        .map(|i| Cause {
            id: format!("c{i}"),
            title: format!("cause {i}"),
            description: String::new(),
            prior: 0.5 + rng.unit(),
            references: vec!["https://example.invalid".into()],
        })
        .collect();
    let yes_no = |p: f64| BTreeMap::from([("yes".to_string(), p), ("no".to_string(), 1.0 - p)]);
    let mut evidence: Vec<Evidence> = (0..m)
        .map(|j| Evidence {
            id: format!("e{j}"),
            title: String::new(),
            values: vec!["yes".into(), "no".into()],
            question: Some(Question {
                text: format!("question {j}?"),
                labels: BTreeMap::from([("yes".into(), "yes".into()), ("no".into(), "no".into())]),
                help: None,
                answerability: 0.9,
                access: None,
            }),
            cost: 1.0 + (j % 5) as f64,
            ask_if: None,
            default: yes_no(0.2),
            likelihoods: BTreeMap::new(),
        })
        .collect();
    // Every cause gets at least one question of its own, so none is
    // indistinguishable; then random extra links.
    for i in 0..n {
        let e = &mut evidence[i % m];
        e.likelihoods
            .insert(format!("c{i}"), yes_no(0.55 + 0.4 * rng.unit()));
    }
    for e in evidence.iter_mut() {
        while e.likelihoods.len() < per_evidence.min(n) {
            let c = (rng.next_u64() % n as u64) as usize;
            e.likelihoods
                .insert(format!("c{c}"), yes_no(0.05 + 0.9 * rng.unit()));
        }
    }
    let fixes: Vec<Fix> = (0..n.div_ceil(100))
        .map(|k| Fix {
            id: format!("f{k}"),
            title: format!("fix {k}"),
            description: String::new(),
            steps: vec![Step {
                text: "do it".into(),
                commands: vec![],
            }],
            resolves: (k * 100..((k + 1) * 100).min(n))
                .map(|c| (format!("c{c}"), 0.8))
                .collect(),
            cost: 1.0 + (k % 7) as f64,
            risk: None,
            lowers_security: false,
            needs_reboot: false,
            needs_downtime: false,
            revert: None,
            applies_if: None,
            verify: Some(Verify {
                text: "check".into(),
                expect: BTreeMap::new(),
            }),
            references: vec![],
        })
        .collect();
    let kb = Kb {
        manifest: Manifest {
            id: format!("synthetic-{n}x{m}"),
            title: "synthetic".into(),
            version: "0".into(),
            problem: String::new(),
            description: String::new(),
            leak: 0.05,
            threshold: 0.9,
            min_gain_bits: 0.01,
            max_questions: 1000,
            sources: BTreeMap::new(),
            checklist: vec![],
            risk_costs: RiskCosts::default(),
            unknown_decay: 0.3,
            step_cost: 0.0,
            recent_changes: BTreeMap::new(),
            error_shown: BTreeMap::new(),
            triage: vec![],
        },
        causes,
        evidence,
        rules: vec![],
        fixes,
        collectors: vec![],
        codes: Codes::default(),
        patterns: vec![],
        findings: vec![],
        reports: vec![],
        cases: vec![],
        source: KbSource::from_memory("<synthetic>", &[]),
    };
    Engine::from_kb(kb).expect("the synthetic KB is valid")
}

/// A state with `k` answers already given.
fn state_with(engine: &Engine, k: usize) -> State {
    let mut s = State::new(engine);
    for e in engine.model.evidence.iter().take(k) {
        s.observe(engine, &e.id, &e.values[0], Source::User)
            .expect("valid answer");
    }
    s
}

fn bench(c: &mut Criterion) {
    let rdp = Engine::embedded().expect("embedded KB");
    let mut g = c.benchmark_group("step");
    g.sample_size(20);

    // RDP KB: the full step the JSON mode does (observe + assess: ranking,
    // next question, fix plan, ask-or-fix advice).
    let base = state_with(&rdp, 3);
    let next = base.assess(&rdp).next.expect("a question").evidence;
    let (id, value) = (
        rdp.model.evidence[next].id.clone(),
        rdp.model.evidence[next].values[0].clone(),
    );
    g.bench_function(BenchmarkId::new("observe+assess", "rdp-0x904"), |b| {
        b.iter(|| {
            let mut s = base.clone();
            s.observe(&rdp, &id, &value, Source::User).unwrap();
            black_box(s.assess(&rdp))
        })
    });

    for (n, m) in [(1_000, 100), (10_000, 1_000)] {
        let engine = synthetic(n, m, 50, 7);
        let label = format!("{n}x{m}");
        let base = state_with(&engine, 5);
        let findings = base.findings(&engine);
        let model = &engine.model;
        // The inference step proper: posterior with one more observation,
        // ranking, best question among the unobserved.
        g.bench_function(BenchmarkId::new("observe+rank+next", &label), |b| {
            b.iter(|| {
                let mut f = findings.clone();
                f.observed.push((5, 0));
                let (post, _) = posterior::posterior(model, &f);
                let ranking = posterior::ranking(&post);
                let best = gain::best_question(
                    model,
                    &post,
                    (6..model.evidence.len()).map(|e| gain::Candidate::of(model, e)),
                );
                black_box((ranking[0], best))
            })
        });
        // Everything `assess` does, incl. fix plan and ECO of the best question.
        g.bench_function(BenchmarkId::new("observe+assess", &label), |b| {
            b.iter(|| {
                let mut s = base.clone();
                s.observe(&engine, "e5", "yes", Source::User).unwrap();
                black_box(s.assess(&engine))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
