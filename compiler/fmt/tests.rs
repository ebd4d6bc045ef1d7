//! One rule per test: input -> expected output, which must also be a fixed point.

use super::*;
use crate::syntax::ast::*;

#[track_caller]
fn check(input: &str, expected: &str) {
    let out = match format_source("t.nn", input) {
        Ok(out) => out,
        Err(c) => panic!("{:?}", c.diags),
    };
    assert_eq!(out, expected, "\n--- got\n{out}--- want\n{expected}");
    assert_eq!(
        format_source("t.nn", &out).ok().as_deref(),
        Some(expected),
        "not stable"
    );
}

#[test]
fn spacing_and_one_statement_per_line() {
    check(
        "network n{input x:[1,2]let h=x|>dense(3,init:he,)output y=h}",
        "network n {\n  input x: [1, 2]\n  let h = x |> dense(3, init: he)\n  output y = h\n}\n",
    );
}

#[test]
fn numbers_and_strings_as_written() {
    check(
        "data d { a: 1e-4 b: 2E+3 c: 0.50 d: \"t\\tq\\\"\" }",
        "data d {\n  a: 1e-4\n  b: 2E+3\n  c: 0.50\n  d: \"t\\tq\\\"\"\n}\n",
    );
}

#[test]
fn empty_things() {
    check("", "");
    check("  \n\n ", "");
    check("network n { }", "network n {}\n");
    check(
        "train { x: f( ) y: [ ] }",
        "train {\n  x: f()\n  y: []\n}\n",
    );
    check("// only a comment", "// only a comment\n");
}

#[test]
fn items_are_separated_by_one_blank_line_imports_may_stay_together() {
    check(
        "import \"a.nn\"\nimport \"b.nn\"\n\n\nimport \"c.nn\"\nnetwork a {}\n\n\n\nnetwork b {}",
        "import \"a.nn\"\nimport \"b.nn\"\n\nimport \"c.nn\"\n\nnetwork a {}\n\nnetwork b {}\n",
    );
}

#[test]
fn blank_lines_collapse_and_never_open_or_close_a_block() {
    check(
        "network n {\n\n\n  let a = 1\n\n\n\n  let b = 2\n  let c = 3\n\n}",
        "network n {\n  let a = 1\n\n  let b = 2\n  let c = 3\n}\n",
    );
}

#[test]
fn a_pipe_of_exactly_100_columns_stays_on_one_line() {
    let stage = "|> dense(1) ";
    let mut line = String::from("  let h = x ");
    while line.len() + stage.len() <= 96 {
        line.push_str(stage);
    }
    line.push_str("|> f");
    line.push_str(&"x".repeat(100 - line.len()));
    assert_eq!(line.len(), 100);
    let one_line = format!("network n {{\n{line}\n}}\n");
    check(&one_line, &one_line);
    let longer = one_line.replacen(&line, &format!("{line}z"), 1);
    let out = format_source("t.nn", &longer).unwrap();
    assert!(
        out.contains("  let h = x |> dense(1)\n            |> dense(1)\n"),
        "{out}"
    );
}

#[test]
fn long_pipes_break_before_each_stage() {
    let long = "a_long_layer_name(64, init: orthogonal)";
    let input = format!("network n {{ let h = x |> {long} |> {long} |> relu }}");
    check(
        &input,
        &format!(
            "network n {{\n  let h = x |> {long}\n            |> {long}\n            |> relu\n}}\n"
        ),
    );
}

#[test]
fn long_argument_lists_break_one_per_line() {
    let args: Vec<String> = (0..12).map(|i| format!("argument_{i}")).collect();
    let input = format!("train {{ m: [{}] }}", args.join(", "));
    let expected = format!(
        "train {{\n  m: [\n      {},\n  ]\n}}\n",
        args.join(",\n      ")
    );
    check(&input, &expected);
}

#[test]
fn trailing_comments_get_two_spaces_unless_padded_to_a_column() {
    check(
        "network n {\n  input x: [1] // shape\n  let y = x  /* note */\n}",
        "network n {\n  input x: [1]  // shape\n  let y = x  /* note */\n}\n",
    );
    // Padded: the column is kept, and shared by the next lines that asked for it.
    check(
        "network n {\n  input x: [1]     // shape\n  let y = x        // note\n}",
        "network n {\n  input x: [1]     // shape\n  let y = x        // note\n}\n",
    );
}

#[test]
fn aligned_trailing_comments_move_together_when_a_line_grows() {
    check(
        "train {\n  a: 1          // one\n  b: [1,2,3,4]  // two\n  c: 3          // three\n}",
        "train {\n  a: 1             // one\n  b: [1, 2, 3, 4]  // two\n  c: 3             // three\n}\n",
    );
}

#[test]
fn pipes_keep_their_line_breaks() {
    let hand = "network n {\n  let h = x |> batch_norm |> relu |> conv(8, 3)\n            |> batch_norm |> relu\n}\n";
    check(hand, hand);
    // Short enough for one line, but written on two: kept.
    check(
        "network n { let h = x |> relu\n  |> dense(2) }",
        "network n {\n  let h = x |> relu\n            |> dense(2)\n}\n",
    );
}

#[test]
fn own_line_comments_take_the_indentation_of_what_follows() {
    check(
        "// a\nnetwork n {\n// b\n      let y = 1\n        // c\n}\n   // d",
        "// a\nnetwork n {\n  // b\n  let y = 1\n  // c\n}\n// d\n",
    );
}

#[test]
fn a_comment_between_stages_breaks_the_pipe() {
    check(
        "network n { let h = x |> dense(1) // one\n |> relu }",
        "network n {\n  let h = x |> dense(1)  // one\n            |> relu\n}\n",
    );
    check(
        "network n { let h = x\n// before relu\n|> relu }",
        "network n {\n  let h = x\n      // before relu\n      |> relu\n}\n",
    );
}

#[test]
fn a_comment_in_an_argument_list_breaks_it() {
    check(
        "network n { let h = f(a, // first\n b) }",
        "network n {\n  let h = f(\n      a,  // first\n      b,\n  )\n}\n",
    );
}

#[test]
fn inline_block_comments_stay_inline() {
    check(
        "network n { let h = f(/* w */ 8) |> /* s */ relu }",
        "network n {\n  let h = f(/* w */ 8) |> /* s */ relu\n}\n",
    );
    check("train { a: /* c */ 1 }", "train {\n  a: /* c */ 1\n}\n");
}

#[test]
fn comments_with_no_place_of_their_own_go_before_the_statement() {
    check(
        "network n { let h = a + // sum\n b }",
        "network n {\n  // sum\n  let h = a + b\n}\n",
    );
    check(
        "network n { let h = ( // head\n x |> f) let g = (x |> f // last\n) }",
        "network n {\n  // head\n  let h = (x |> f)\n  // last\n  let g = (x |> f)\n}\n",
    );
}

#[test]
fn a_comment_after_the_opening_brace_stays_there() {
    check(
        "network n { // the net\n input x: [1] }",
        "network n {  // the net\n  input x: [1]\n}\n",
    );
}

#[test]
fn user_parentheses_are_kept_double_ones_collapse() {
    check(
        "network n { let h = ((a)) + (b * c) - ((x: 1)) }",
        "network n {\n  let h = (a) + (b * c) - ((x: 1))\n}\n",
    );
}

#[test]
fn rules_keep_the_order_of_fields_and_rules() {
    check(
        "rules r { rule a: x strength: 6 rule b(weight: 1): not x or y imitation: 0.5 }",
        "rules r {\n  rule a: x\n  strength: 6\n  rule b(weight: 1): not x or y\n  imitation: 0.5\n}\n",
    );
}

#[test]
fn repeat_is_one_line_or_a_block() {
    check(
        "network n { let h = repeat 3 {h|>f} }",
        "network n {\n  let h = repeat 3 { h |> f }\n}\n",
    );
    check(
        "network n { let h = repeat 3 { let a = h a } }",
        "network n {\n  let h = repeat 3 {\n    let a = h\n    a\n  }\n}\n",
    );
}

#[test]
fn windows_line_endings_and_byte_order_mark() {
    check(
        "\u{FEFF}network n {\r\n  let a = 1 // c\r\n}\r\n",
        "network n {\n  let a = 1  // c\n}\n",
    );
}

#[test]
fn a_file_that_does_not_parse_is_refused_with_its_diagnostics() {
    let err = format_source("t.nn", "network n { let = }").unwrap_err();
    assert!(err.has_errors());
    assert_eq!(err.diags[0].code, codes::PARSE_SYNTAX);
}

// ------------------------------------------------------------------ parentheses by precedence

fn name(n: &str) -> Expr {
    Expr {
        kind: ExprKind::Name(n.into()),
        span: Default::default(),
    }
}

fn bin(op: BinaryOp, lhs: Expr, rhs: Expr) -> Expr {
    Expr {
        kind: ExprKind::Binary {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
        },
        span: Default::default(),
    }
}

fn un(op: UnaryOp, operand: Expr) -> Expr {
    Expr {
        kind: ExprKind::Unary {
            op,
            operand: Box::new(operand),
        },
        span: Default::default(),
    }
}

/// Prints a tree that has no source (so no user parentheses) as `let h = ...`.
fn print_tree(value: Expr) -> String {
    let file = File {
        items: vec![Item::Network(Network {
            name: Ident {
                name: "n".into(),
                span: Default::default(),
            },
            body: vec![Stmt::Let {
                name: Ident {
                    name: "h".into(),
                    span: Default::default(),
                },
                value,
                span: Default::default(),
            }],
            span: Default::default(),
        })],
    };
    let out = format_parsed("", &file);
    let (again, diags) = crate::syntax::parse_file(FileId(0), &out);
    assert!(diags.is_empty(), "{out}: {diags:?}");
    assert!(verify::same_ast(&again, &file), "{out} parses differently");
    out.lines()
        .nth(1)
        .unwrap()
        .trim()
        .trim_start_matches("let h = ")
        .to_string()
}

#[test]
fn parentheses_are_inserted_where_precedence_needs_them() {
    use BinaryOp::*;
    let (a, b, c) = (name("a"), name("b"), name("c"));
    let cases = [
        (
            bin(Sub, a.clone(), bin(Sub, b.clone(), c.clone())),
            "a - (b - c)",
        ),
        (
            bin(Sub, bin(Sub, a.clone(), b.clone()), c.clone()),
            "a - b - c",
        ),
        (
            bin(Pow, a.clone(), bin(Pow, b.clone(), c.clone())),
            "a ^ b^c",
        ),
        (
            bin(Pow, bin(Pow, a.clone(), b.clone()), c.clone()),
            "(a^b) ^ c",
        ),
        (
            bin(Implies, bin(Implies, a.clone(), b.clone()), c.clone()),
            "(a => b) => c",
        ),
        (
            bin(Iff, a.clone(), bin(Implies, b.clone(), c.clone())),
            "a <=> (b => c)",
        ),
        (
            bin(Implies, a.clone(), bin(Iff, b.clone(), c.clone())),
            "a => b <=> c",
        ),
        (
            bin(Mul, bin(Add, a.clone(), b.clone()), c.clone()),
            "(a + b) * c",
        ),
        (bin(Pow, un(UnaryOp::Neg, a.clone()), b.clone()), "(-a) ^ b"),
        (un(UnaryOp::Neg, bin(Pow, a.clone(), b.clone())), "-a^b"),
        (
            bin(Add, un(UnaryOp::Not, a.clone()), b.clone()),
            "(not a) + b",
        ),
        (
            bin(And, un(UnaryOp::Not, a.clone()), b.clone()),
            "not a and b",
        ),
        (
            un(UnaryOp::Not, bin(Eq, a.clone(), b.clone())),
            "not a == b",
        ),
        (un(UnaryOp::Neg, un(UnaryOp::Not, a.clone())), "-(not a)"),
        (
            bin(From, a.clone(), bin(From, b.clone(), c.clone())),
            "a from (b from c)",
        ),
    ];
    for (tree, want) in cases {
        assert_eq!(print_tree(tree), want);
    }
    let pipe = |head: Expr, stages: Vec<Expr>| Expr {
        kind: ExprKind::Pipe {
            head: Box::new(head),
            stages,
        },
        span: Default::default(),
    };
    let inner = pipe(b.clone(), vec![c.clone()]);
    assert_eq!(
        print_tree(pipe(a.clone(), vec![inner.clone()])),
        "a |> (b |> c)"
    );
    assert_eq!(
        print_tree(bin(Add, inner.clone(), a.clone())),
        "(b |> c) + a"
    );
    assert_eq!(print_tree(bin(From, inner, a)), "b |> c from a");
}

#[test]
fn nesting_at_the_parser_limits_formats() {
    // Test threads have small stacks: the recursion must stay shallow enough.
    let depth = crate::syntax::MAX_NESTING - 5;
    let lists = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let calls = format!("{}1{}", "f(".repeat(depth), ")".repeat(depth));
    let parens = format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    let repeats = format!(
        "{}x{}",
        "repeat 2 { ".repeat(depth / 2),
        " }".repeat(depth / 2)
    );
    let sums = vec!["x"; 90].join(" + ");
    let powers = format!("{}x{}", "x ^ (".repeat(45), ")".repeat(45));
    for value in [lists, calls, parens, repeats, sums, powers] {
        let text = format!("network n {{ let h = {value} }}");
        let parsed = crate::parse_text("t.nn", &text);
        assert!(!parsed.has_errors(), "{:?}", parsed.diags);
        let out = format_source("t.nn", &text).unwrap_or_else(|c| panic!("{:?}", c.diags));
        assert_eq!(format_source("t.nn", &out).ok(), Some(out.clone()));
    }
}
