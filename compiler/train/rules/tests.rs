//! Unit tests of the rules' teacher (moved out of rules.rs to keep it readable).
use super::*;
use crate::prim::interp::{evaluate, Bindings};
use ndarray::{arr2, Array2, ArrayD};
use nnc_runtime::data::Targets;

/// Two examples of the A-but-B data: features a0 | b0 | has_but.
fn data() -> Dataset {
    let features = Array2::from_shape_vec((2, 3), vec![0.0, 0.0, 1.0, 0.0, 0.0, 0.0]).unwrap();
    Dataset::new(
        "test",
        features,
        Targets::Classes {
            labels: vec![0, 1],
            n_classes: 2,
        },
    )
    .unwrap()
    .with_class_names(vec!["negative".into(), "positive".into()])
    .unwrap()
    .with_feature_names(vec!["a0".into(), "b0".into(), "has_but".into()])
    .unwrap()
    .with_field("clause_b", 1..2)
    .unwrap()
}

fn rules(body: &str) -> Result<Rules, RunError> {
    let spec = format!("network n {{\n  input x: [3]\n  output y = x |> dense(2)\n}}\n{body}\n");
    let checked = crate::check_text("r.nn", &spec, &|_| Err(std::io::ErrorKind::NotFound.into()));
    assert!(!checked.has_errors(), "{:?}", checked.diags);
    Rules::resolve(&checked.program.rules[0], &data(), 2)
}

const A_BUT_B: &str = r#"rules r {
  strength: 6
  imitation: 1 - 0.95^epoch
  rule a_but_b (weight: 1.0):
feature("has_but") => (class == positive <=> predict(field("clause_b")) == positive)
}"#;

/// papers.md section 6, test case 2: p = [0.3, 0.7], p_B = [0.8, 0.2], C = 6, λ = 1
/// gives q = [0.721658, 0.278342]; without "but", q = p.
#[test]
fn the_a_but_b_teacher_matches_the_paper_vector() {
    let r = rules(A_BUT_B).unwrap();
    assert_eq!(
        r.views,
        vec![View {
            field: "clause_b".into(),
            columns: 1..2
        }]
    );
    let mut g = Graph::new();
    let logits = g.input("logits", &[2, 2]);
    let raw = g.input(RAW_FEATURES, &[2, 3]);
    let pb = g.input("pb", &[2, 2]);
    let q = r.lower_teacher(&mut g, logits, raw, &[pb]);
    let p = [0.3f64, 0.7];
    let b = Bindings::new()
        .input(
            "logits",
            arr2(&[[p[0].ln(), p[1].ln()], [p[0].ln(), p[1].ln()]]).into_dyn(),
        )
        .input(
            RAW_FEATURES,
            arr2(&[[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]).into_dyn(),
        )
        .input("pb", arr2(&[[0.8, 0.2], [0.8, 0.2]]).into_dyn());
    let out: ArrayD<f64> = evaluate::<f64>(&g, &b, &[q]).unwrap().remove(0);
    let want = [0.721658, 0.278342, 0.3, 0.7];
    for (got, want) in out.iter().zip(want) {
        assert!((got - want).abs() < 1e-6, "{out:?}");
    }
}

/// papers.md test cases 1 and 3: the connectives and the schedule 1 - 0.95^t.
#[test]
fn connectives_and_schedule_match_the_paper() {
    let (a, b) = (Box::new(Term::Number(0.7)), Box::new(Term::Number(0.6)));
    let value = |op| host_value(&Term::Binary(op, a.clone(), b.clone()), &[]).unwrap();
    assert!((value(BinaryOp::And) - 0.3).abs() < 1e-12);
    assert!((value(BinaryOp::Or) - 1.0).abs() < 1e-12);
    assert!((value(BinaryOp::Implies) - 0.9).abs() < 1e-12);
    let r = rules(A_BUT_B).unwrap();
    for (t, want) in [
        (0, 0.0),
        (1, 0.05),
        (2, 0.0975),
        (5, 0.226219),
        (10, 0.401263),
        (11, 0.4312),
    ] {
        assert!((r.pi(t) - want).abs() < 5e-5, "pi({t}) = {}", r.pi(t));
    }
}

#[test]
fn unknown_names_are_errors_with_a_span() {
    let cases = [
        (
            A_BUT_B.replace("has_but", "has_buut"),
            "unknown feature `has_buut`",
            "Did you mean `has_but`",
        ),
        (
            A_BUT_B.replace("clause_b", "clause_c"),
            "unknown field `clause_c`",
            "clause_b",
        ),
        (
            A_BUT_B.replace("== positive <=>", "== postive <=>"),
            "unknown class `postive`",
            "Did you mean `positive`",
        ),
    ];
    for (spec, message, help) in cases {
        match rules(&spec) {
            Err(RunError::Config {
                message: m,
                help: h,
                at,
            }) => {
                assert!(at.is_some(), "{message}: no span");
                assert!(m.contains(message), "{m}");
                assert!(h.contains(help) || m.contains(help), "{h}");
            }
            other => panic!("{message}: {other:?}"),
        }
    }
}
