//! Property tests of `nnc fmt` on generated specs: random programs from a small grammar
//! generator, laid out with random whitespace and comments between any two tokens. Every
//! one must format (keeping its AST and its comments: `format_source` checks both), and
//! formatting must be a fixed point. Random edits of those programs must never panic.

use nnc::fmt::{format_source, verify};
use proptest::prelude::*;

#[path = "common/grammar.rs"]
mod grammar;

use grammar::program;

fn check_formats(src: &str) -> Result<(), TestCaseError> {
    let parsed = nnc::parse_text("gen.nn", src);
    prop_assert!(
        !parsed.has_errors(),
        "does not parse: {}\n{:?}",
        src,
        parsed.diags.iter().map(|d| &d.message).collect::<Vec<_>>()
    );
    let out = match format_source("gen.nn", src) {
        Ok(out) => out,
        Err(checked) => {
            let shown = nnc::fmt::format_parsed(src, &parsed.files[0]);
            return Err(TestCaseError::fail(format!(
                "{:?}\n--- input\n{src}\n--- output\n{shown}",
                checked.diags
            )));
        }
    };
    prop_assert_eq!(verify::comment_texts(src), verify::comment_texts(&out));
    let again =
        format_source("gen.nn", &out).map_err(|c| TestCaseError::fail(format!("{:?}", c.diags)))?;
    prop_assert_eq!(&again, &out, "not idempotent; input:\n{}", src);
    for line in out.lines() {
        prop_assert!(
            !line.ends_with([' ', '\t']),
            "trailing whitespace: {:?}",
            line
        );
    }
    Ok(())
}

proptest! {
    // PROPTEST_CASES=100000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_specs_format_stably(src in program()) {
        check_formats(&src)?;
    }

    /// Edits that usually break the syntax: never a panic; if it still parses, the same
    /// properties hold.
    #[test]
    fn edited_specs_never_panic(
        src in program(),
        at in any::<prop::sample::Index>(),
        insert in prop::sample::select(vec!["", "(", ")", "{", "}", "\"", "/*", "//", "\n", "-", "|>", ",", "x"]),
        cut in 0usize..4,
    ) {
        let mut src = src;
        let mut pos = at.index(src.len() + 1);
        while !src.is_char_boundary(pos) {
            pos -= 1;
        }
        let mut end = (pos + cut).min(src.len());
        while !src.is_char_boundary(end) {
            end += 1;
        }
        src.replace_range(pos..end, insert);
        if !nnc::parse_text("gen.nn", &src).has_errors() {
            check_formats(&src)?;
        } else {
            prop_assert!(format_source("gen.nn", &src).is_err());
        }
    }

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,200}") {
        let _ = format_source("any.nn", &src);
    }
}

// ------------------------------------------------------------------ trees without source

mod trees {
    use nnc::syntax::ast::*;
    use proptest::prelude::*;

    fn expr(kind: ExprKind) -> Expr {
        Expr {
            kind,
            span: Default::default(),
        }
    }

    fn atom() -> impl Strategy<Value = Expr> {
        prop_oneof![
            prop::sample::select(vec!["a", "b", "c"]).prop_map(|n| expr(ExprKind::Name(n.into()))),
            Just(expr(ExprKind::Number(Number {
                value: 2.0,
                int: Some(2),
                text: "2".into(),
            }))),
            // Printed from the value: every escape of the grammar.
            Just(expr(ExprKind::Str("q\"\\\n\tü /* // ".into()))),
        ]
    }

    /// Any tree the parser can produce: a pipe's head is never a pipe (it flattens them).
    fn tree() -> impl Strategy<Value = Expr> {
        use BinaryOp::*;
        let ops = vec![
            From, Iff, Implies, Or, And, Eq, Ne, Le, Ge, Lt, Gt, Add, Sub, Mul, Div, Pow,
        ];
        atom().prop_recursive(6, 64, 3, move |inner| {
            prop_oneof![
                (
                    prop::sample::select(ops.clone()),
                    inner.clone(),
                    inner.clone()
                )
                    .prop_map(|(op, l, r)| expr(ExprKind::Binary {
                        op,
                        lhs: Box::new(l),
                        rhs: Box::new(r),
                    })),
                (
                    prop::sample::select(vec![UnaryOp::Neg, UnaryOp::Not]),
                    inner.clone()
                )
                    .prop_map(|(op, x)| expr(ExprKind::Unary {
                        op,
                        operand: Box::new(x),
                    })),
                (inner.clone(), prop::collection::vec(inner.clone(), 1..3)).prop_map(
                    |(head, stages)| {
                        let head = match head.kind {
                            ExprKind::Pipe { head, .. } => *head,
                            _ => head,
                        };
                        expr(ExprKind::Pipe {
                            head: Box::new(head),
                            stages,
                        })
                    }
                ),
            ]
        })
    }

    fn file(value: Expr) -> File {
        let ident = |n: &str| Ident {
            name: n.into(),
            span: Default::default(),
        };
        File {
            items: vec![Item::Network(Network {
                name: ident("n"),
                body: vec![Stmt::Let {
                    name: ident("h"),
                    value,
                    span: Default::default(),
                }],
                span: Default::default(),
            })],
        }
    }

    proptest! {
        /// Parentheses are inserted wherever precedence needs them: printing a tree and
        /// parsing the text gives the tree back.
        #[test]
        fn printed_trees_parse_back(value in tree()) {
            let file = file(value);
            let out = nnc::fmt::format_parsed("", &file);
            let (again, diags) = nnc::syntax::parse_file(Default::default(), &out);
            prop_assert!(diags.is_empty(), "{}\n{:?}", out, diags);
            prop_assert!(nnc::fmt::verify::same_ast(&again, &file), "parses differently:\n{}", out);
        }
    }
}
