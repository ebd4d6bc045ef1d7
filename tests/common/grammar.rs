//! A generator of specs from a small version of the grammar (proptest strategies): random
//! programs laid out with random whitespace and comments between any two tokens. Shared by
//! the formatter's property tests (tests/fmt_props.rs) and the robustness run
//! (tests/robustness.rs).

use proptest::prelude::*;
use proptest::sample::select;

type Toks = Vec<String>;

fn tok(s: &str) -> Toks {
    vec![s.to_string()]
}

fn name() -> impl Strategy<Value = String> {
    // Names that start like keywords check the word boundaries.
    select(vec![
        "x", "h", "relu", "dense", "notx", "fromage", "_a1", "ands", "or2",
    ])
    .prop_map(str::to_string)
}

fn key() -> impl Strategy<Value = String> {
    // Keys may be keywords.
    select(vec![
        "lr", "init", "data", "network", "from", "not", "rule", "k_2",
    ])
    .prop_map(str::to_string)
}

fn leaf() -> impl Strategy<Value = Toks> {
    prop_oneof![
        select(vec!["0", "1", "64", "0.5", "1e-4", "2E+3", "3.25e2"]).prop_map(tok),
        select(vec![
            r#""a""#,
            r#""x y""#,
            r#""q\"uote\\""#,
            r#""// not a comment""#,
            r#""/* nor this */""#,
            r#""ü""#,
        ])
        .prop_map(tok),
        select(vec!["true", "false"]).prop_map(tok),
        name().prop_map(|n| vec![n]),
    ]
}

fn wrap(open: &str, inner: Vec<Toks>, close: &str, trailing_comma: bool) -> Toks {
    let mut t = tok(open);
    let n = inner.len();
    for (i, x) in inner.into_iter().enumerate() {
        t.extend(x);
        if i + 1 < n || trailing_comma {
            t.push(",".into());
        }
    }
    t.push(close.into());
    t
}

/// An expression that does not start with `-` or `(`: after a `let` in a repeat, those
/// would continue the `let`'s expression (`let a = x (y)` is a call).
fn not_continuing(t: Toks) -> Toks {
    if t.first().is_some_and(|s| s == "-" || s == "(") {
        let mut guarded = vec!["h".to_string(), "+".to_string()];
        guarded.extend(t);
        guarded
    } else {
        t
    }
}

fn expr() -> impl Strategy<Value = Toks> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        let arg = prop_oneof![
            inner.clone(),
            (key(), inner.clone()).prop_map(|(k, v)| {
                let mut t = vec![k, ":".into()];
                t.extend(v);
                t
            }),
        ];
        let named = (key(), inner.clone()).prop_map(|(k, v)| {
            let mut t = vec![k, ":".into()];
            t.extend(v);
            t
        });
        let op = select(vec![
            "from", "<=>", "=>", "or", "and", "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/",
            "^", "|>",
        ]);
        prop_oneof![
            (name(), prop::collection::vec(arg, 0..4), any::<bool>()).prop_map(
                |(f, args, comma)| {
                    let comma = comma && !args.is_empty();
                    let mut t = vec![f];
                    t.extend(wrap("(", args, ")", comma));
                    t
                }
            ),
            (prop::collection::vec(inner.clone(), 0..4), any::<bool>()).prop_map(|(xs, comma)| {
                let comma = comma && !xs.is_empty();
                wrap("[", xs, "]", comma)
            }),
            prop::collection::vec(named, 1..3).prop_map(|fs| wrap("(", fs, ")", false)),
            inner.clone().prop_map(|x| wrap("(", vec![x], ")", false)),
            (
                inner.clone(),
                prop::collection::vec((op, inner.clone()), 1..4)
            )
                .prop_map(|(first, rest)| {
                    let mut t = first;
                    for (op, x) in rest {
                        t.push(op.to_string());
                        t.extend(x);
                    }
                    t
                }),
            (select(vec!["-", "not"]), inner.clone()).prop_map(|(op, x)| {
                let mut t = tok(op);
                t.extend(x);
                t
            }),
            (
                prop_oneof![
                    leaf(),
                    inner.clone().prop_map(|x| wrap("(", vec![x], ")", false))
                ],
                prop::collection::vec((name(), inner.clone()), 0..3),
                inner.clone(),
            )
                .prop_map(|(count, lets, result)| {
                    let mut t = tok("repeat");
                    t.extend(count);
                    t.push("{".into());
                    for (n, v) in lets {
                        t.extend(["let".to_string(), n, "=".into()]);
                        t.extend(v);
                    }
                    t.extend(not_continuing(result));
                    t.push("}".into());
                    t
                }),
        ]
    })
}

fn stmt() -> impl Strategy<Value = Toks> {
    (
        select(vec!["input", "let", "output", "return"]),
        name(),
        expr(),
    )
        .prop_map(|(kw, n, e)| {
            let mut t = tok(kw);
            match kw {
                "return" => {}
                "input" => t.extend([n, ":".into()]),
                _ => t.extend([n, "=".into()]),
            }
            t.extend(e);
            t
        })
}

fn field() -> impl Strategy<Value = Toks> {
    (key(), expr()).prop_map(|(k, e)| {
        let mut t = vec![k, ":".into()];
        t.extend(e);
        t
    })
}

fn item() -> impl Strategy<Value = Toks> {
    let body = |kw: &'static str| {
        (name(), prop::collection::vec(stmt(), 0..5)).prop_map(move |(n, stmts)| {
            let mut t = vec![kw.to_string(), n];
            if kw == "block" {
                t.extend(["(", "x", ",", "y", ")"].map(String::from));
            }
            t.push("{".into());
            t.extend(stmts.into_iter().flatten());
            t.push("}".into());
            t
        })
    };
    let rule = (name(), prop::collection::vec(field(), 0..3), expr()).prop_map(|(n, args, f)| {
        let mut t = vec!["rule".to_string(), n];
        if !args.is_empty() {
            t.extend(wrap("(", args, ")", false));
        }
        t.push(":".into());
        t.extend(f);
        t
    });
    let entry = prop_oneof![field(), rule];
    prop_oneof![
        select(vec![r#""a.nn""#, r#""dir/b.nn""#]).prop_map(|p| vec!["import".into(), p.into()]),
        body("network"),
        body("block"),
        (
            select(vec!["data", "train"]),
            prop::option::of(name()),
            prop::collection::vec(field(), 0..4)
        )
            .prop_map(|(kw, n, fields)| {
                let mut t = tok(kw);
                // Only train blocks may be anonymous.
                t.extend(n.or((kw == "data").then(|| "d".to_string())));
                t.push("{".into());
                t.extend(fields.into_iter().flatten());
                t.push("}".into());
                t
            }),
        (name(), prop::collection::vec(entry, 0..4)).prop_map(|(n, entries)| {
            let mut t = vec!["rules".to_string(), n, "{".into()];
            t.extend(entries.into_iter().flatten());
            t.push("}".into());
            t
        }),
    ]
}

/// What may separate two tokens: whitespace, blank lines and comments of every kind.
const SEPARATORS: &[&str] = &[
    " ",
    " ",
    " ",
    " ",
    "",
    "",
    "\n",
    "\n    ",
    "\n\n\n",
    "\t",
    "\r\n",
    " // line\n",
    "  //trailing  \n",
    "\n// own line\n",
    "\n\n// after a blank\n\n",
    " /* block */ ",
    "/**/",
    "\n  /* own block */\n",
    " /* multi\n   line */ ",
    " /* a */ /* b */ ",
    " //\n",
];

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Joins tokens with the chosen separators, adding a space where two tokens would merge.
fn layout(tokens: &[String], seps: &[usize]) -> String {
    let mut out = String::new();
    let mut k = 0;
    let mut sep = || {
        k += 1;
        SEPARATORS[seps[k % seps.len()] % SEPARATORS.len()]
    };
    out.push_str(sep().trim_start_matches(' '));
    for t in tokens {
        let s = sep();
        let last = out.chars().last();
        // `a / /**/ b` must not become `a //**/ b`, nor `let x` become `letx`.
        if last == Some('/') && s.starts_with('/')
            || s.is_empty()
                && last.is_some_and(|c| ident_char(c) && t.starts_with(ident_char) || c == '/')
        {
            out.push(' ');
        }
        out.push_str(s);
        out.push_str(t);
    }
    out.push_str(sep());
    out
}

pub fn program() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(item(), 0..4),
        prop::collection::vec(0..SEPARATORS.len(), 1..300),
    )
        .prop_map(|(items, seps)| {
            let tokens: Vec<String> = items.into_iter().flatten().collect();
            layout(&tokens, &seps)
        })
}
