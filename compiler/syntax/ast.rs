//! The typed AST of one `.nn` file. Every node keeps the span it came from.

use crate::source::Span;

#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One parsed file: its items in source order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct File {
    pub items: Vec<Item>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Import(Import),
    Network(Network),
    Block(Block),
    /// `data NAME { fields }`
    Data(Section),
    /// `train [NAME] { fields }`
    Train(Section),
    /// `rules NAME { fields and rule declarations }`
    Rules(Rules),
}

impl Item {
    pub fn span(&self) -> Span {
        match self {
            Item::Import(i) => i.span,
            Item::Network(n) => n.span,
            Item::Block(b) => b.span,
            Item::Data(s) | Item::Train(s) => s.span,
            Item::Rules(r) => r.section.span,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Item::Import(_) => "import",
            Item::Network(_) => "network",
            Item::Block(_) => "block",
            Item::Data(_) => "data",
            Item::Train(_) => "train",
            Item::Rules(_) => "rules",
        }
    }

    /// The item's name; a train block may have none.
    pub fn name(&self) -> Option<&Ident> {
        match self {
            Item::Import(_) => None,
            Item::Network(n) => Some(&n.name),
            Item::Block(b) => Some(&b.name),
            Item::Data(s) | Item::Train(s) => s.name.as_ref(),
            Item::Rules(r) => r.section.name.as_ref(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Import {
    pub path: String,
    pub path_span: Span,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub name: Ident,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub name: Ident,
    pub params: Vec<Ident>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// A `data`, `train` or `rules` block: `key: value` fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Section {
    pub name: Option<Ident>,
    pub fields: Vec<Field>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub key: Ident,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    pub section: Section,
    pub rules: Vec<RuleDecl>,
}

/// `rule NAME (weight: 1.0): formula`
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDecl {
    pub name: Ident,
    pub args: Vec<Arg>,
    pub formula: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `input x: [64]`
    Input {
        name: Ident,
        shape: Expr,
        span: Span,
    },
    /// `let h = expr`
    Let {
        name: Ident,
        value: Expr,
        span: Span,
    },
    /// `output y = expr`
    Output {
        name: Ident,
        value: Expr,
        span: Span,
    },
    /// `return expr` (blocks only)
    Return { value: Expr, span: Span },
}

impl Stmt {
    pub fn span(&self) -> Span {
        match self {
            Stmt::Input { span, .. }
            | Stmt::Let { span, .. }
            | Stmt::Output { span, .. }
            | Stmt::Return { span, .. } => *span,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Not,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    From,
    Iff,
    Implies,
    Or,
    And,
    Eq,
    Ne,
    Le,
    Ge,
    Lt,
    Gt,
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::From => "from",
            BinaryOp::Iff => "<=>",
            BinaryOp::Implies => "=>",
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Le => "<=",
            BinaryOp::Ge => ">=",
            BinaryOp::Lt => "<",
            BinaryOp::Gt => ">",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
        }
    }
}

impl UnaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Not => "not",
        }
    }
}

/// A number literal. `int` is set when it was written without a fraction or exponent and
/// fits in an i64.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    pub value: f64,
    pub int: Option<i64>,
    pub text: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(Number),
    Str(String),
    Bool(bool),
    Name(String),
    List(Vec<Expr>),
    /// `(key: value, ...)`
    Record(Vec<(Ident, Expr)>),
    Call {
        callee: Ident,
        args: Vec<Arg>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `head |> stage |> stage ...`, kept flat so long chains stay shallow.
    Pipe {
        head: Box<Expr>,
        stages: Vec<Expr>,
    },
    /// `repeat count { let ...; result }`
    Repeat {
        count: Box<Expr>,
        body: Vec<Stmt>,
        result: Box<Expr>,
    },
    /// Stands in for an expression that already produced a diagnostic.
    Error,
}
