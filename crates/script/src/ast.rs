//! The syntax tree. Every node carries a [`Span`]; names are interned as `Rc<str>` once at parse
//! time so the evaluator never allocates to look up a property or a map key.

use std::rc::Rc;

use crate::diagnostic::Span;
use crate::num::Dec;

pub type Name = Rc<str>;

#[derive(Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug)]
pub enum GPart {
    Lit(Rc<str>),
    Expr(Expr),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Cmp,
    Ident,
    NotIdent,
    Find,
    Match,
    In,
    NotIn,
    Shl,
    Shr,
    /// `>>>`: shift right without the sign.
    Ushr,
    BitAnd,
    BitOr,
    BitXor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Plus,
    Not,
    BitNot,
}

/// A type as written: `String`, `java.util.List`, `int[]`, `Map<String, Object>`.
#[derive(Debug, Clone)]
pub struct TypeName {
    pub name: Name,
    pub array: bool,
}

#[derive(Debug)]
pub struct Param {
    pub name: Name,
    pub ty: Option<TypeName>,
    pub default: Option<Expr>,
}

#[derive(Debug)]
pub struct ClosureDef {
    pub params: Vec<Param>,
    /// `{ -> … }` declares no parameters; `{ … }` has the implicit `it`.
    pub implicit_it: bool,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    BigInt(i128),
    Dec(Dec),
    Double(f64),
    Str(Rc<str>),
    GString(Vec<GPart>),
    Var(Name),
    This,
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Range {
        from: Box<Expr>,
        to: Box<Expr>,
        exclusive: bool,
    },
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Elvis(Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `++x`, `x--` …: `delta` is ±1, `prefix` says which value the expression yields.
    IncDec {
        target: Box<Expr>,
        delta: i32,
        prefix: bool,
    },
    Assign {
        target: Box<Expr>,
        op: Option<BinOp>,
        value: Box<Expr>,
    },
    ElvisAssign {
        target: Box<Expr>,
        value: Box<Expr>,
    },
    MultiAssign {
        names: Vec<Name>,
        value: Box<Expr>,
    },
    Prop {
        obj: Box<Expr>,
        name: Name,
        safe: bool,
    },
    DynProp {
        obj: Box<Expr>,
        name: Box<Expr>,
        safe: bool,
    },
    Spread {
        obj: Box<Expr>,
        name: Name,
    },
    Index {
        obj: Box<Expr>,
        index: Box<Expr>,
        safe: bool,
    },
    Method {
        obj: Box<Expr>,
        name: Name,
        args: Vec<Expr>,
        safe: bool,
        spread: bool,
    },
    Call {
        name: Name,
        args: Vec<Expr>,
    },
    CallValue {
        callee: Box<Expr>,
        args: Vec<Expr>,
    },
    Closure(Rc<ClosureDef>),
    New {
        class: Name,
        args: Vec<Expr>,
    },
    NewArray {
        elems: Vec<Expr>,
    },
    Cast {
        expr: Box<Expr>,
        ty: TypeName,
    },
    InstanceOf {
        expr: Box<Expr>,
        ty: TypeName,
        negated: bool,
    },
    Switch(Box<SwitchDef>),
    MethodRef {
        target: Box<Expr>,
        name: Name,
    },
    Class(Name),
}

#[derive(Debug)]
pub struct Case {
    /// Empty for `default`.
    pub values: Vec<Expr>,
    pub body: Vec<Stmt>,
    pub span: Span,
}

#[derive(Debug)]
pub struct SwitchDef {
    pub subject: Expr,
    pub cases: Vec<Case>,
    /// `case x -> …` form: no fall-through, the arm's value is the result.
    pub arrow: bool,
}

#[derive(Debug)]
pub struct Catch {
    pub types: Vec<Name>,
    pub name: Name,
    pub body: Vec<Stmt>,
}

#[derive(Debug)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Debug)]
pub enum StmtKind {
    Expr(Expr),
    Decl {
        name: Name,
        ty: Option<TypeName>,
        init: Option<Expr>,
    },
    MultiDecl {
        names: Vec<Name>,
        init: Expr,
    },
    Block(Vec<Stmt>),
    If {
        cond: Expr,
        then: Box<Stmt>,
        els: Option<Box<Stmt>>,
    },
    While {
        cond: Expr,
        body: Box<Stmt>,
    },
    DoWhile {
        body: Box<Stmt>,
        cond: Expr,
    },
    For {
        init: Vec<Stmt>,
        cond: Option<Expr>,
        update: Vec<Expr>,
        body: Box<Stmt>,
    },
    ForIn {
        name: Name,
        iter: Expr,
        body: Box<Stmt>,
    },
    Switch(Box<SwitchDef>),
    Return(Option<Expr>),
    Break,
    Continue,
    Throw(Expr),
    Try {
        body: Vec<Stmt>,
        catches: Vec<Catch>,
        finally: Option<Vec<Stmt>>,
    },
    Assert(Expr, Option<Expr>),
    /// Several declarations from one line (`def a = 1, b = 2`), in the enclosing scope.
    Seq(Vec<Stmt>),
    Empty,
}

#[derive(Debug)]
pub struct MethodDef {
    pub name: Name,
    pub params: Vec<Param>,
    pub body: Vec<Stmt>,
    pub is_static: bool,
    pub ret: Option<TypeName>,
    pub span: Span,
}

#[derive(Debug)]
pub struct FieldDef {
    pub name: Name,
    pub ty: Option<TypeName>,
    pub init: Option<Expr>,
    pub is_static: bool,
}

#[derive(Debug)]
pub struct ClassDef {
    pub name: Name,
    pub fields: Vec<FieldDef>,
    pub methods: Vec<Rc<MethodDef>>,
    pub ctors: Vec<Rc<MethodDef>>,
    pub span: Span,
}

/// A parsed script: its statements, script-level methods and classes.
#[derive(Debug, Default)]
pub struct Program {
    pub body: Vec<Stmt>,
    pub methods: Vec<Rc<MethodDef>>,
    pub classes: Vec<Rc<ClassDef>>,
}

/// A node of the tree, for walks that must not recurse (see [`height`]).
#[derive(Clone, Copy)]
pub(crate) enum Node<'a> {
    Expr(&'a Expr),
    Stmt(&'a Stmt),
}

impl<'a> Node<'a> {
    /// Pushes the node's direct children onto `out`.
    pub(crate) fn children(self, out: &mut Vec<Node<'a>>) {
        match self {
            Node::Expr(e) => expr_children(e, out),
            Node::Stmt(s) => stmt_children(s, out),
        }
    }
}

fn exprs<'a>(list: impl IntoIterator<Item = &'a Expr>, out: &mut Vec<Node<'a>>) {
    out.extend(list.into_iter().map(Node::Expr));
}

fn stmts<'a>(list: impl IntoIterator<Item = &'a Stmt>, out: &mut Vec<Node<'a>>) {
    out.extend(list.into_iter().map(Node::Stmt));
}

fn switch_children<'a>(sw: &'a SwitchDef, out: &mut Vec<Node<'a>>) {
    out.push(Node::Expr(&sw.subject));
    for case in &sw.cases {
        exprs(&case.values, out);
        stmts(&case.body, out);
    }
}

fn expr_children<'a>(e: &'a Expr, out: &mut Vec<Node<'a>>) {
    use ExprKind as K;
    match &e.kind {
        K::Null
        | K::Bool(_)
        | K::Int(_)
        | K::Long(_)
        | K::BigInt(_)
        | K::Dec(_)
        | K::Double(_)
        | K::Str(_)
        | K::Var(_)
        | K::This
        | K::Class(_) => {}
        K::GString(parts) => exprs(
            parts.iter().filter_map(|p| match p {
                GPart::Expr(e) => Some(e),
                GPart::Lit(_) => None,
            }),
            out,
        ),
        K::List(items) | K::NewArray { elems: items } => exprs(items, out),
        K::Map(entries) => exprs(entries.iter().flat_map(|(k, v)| [k, v]), out),
        K::Range { from: a, to: b, .. }
        | K::Binary(_, a, b)
        | K::And(a, b)
        | K::Or(a, b)
        | K::Elvis(a, b)
        | K::Assign {
            target: a,
            value: b,
            ..
        }
        | K::ElvisAssign {
            target: a,
            value: b,
        }
        | K::DynProp {
            obj: a, name: b, ..
        }
        | K::Index {
            obj: a, index: b, ..
        } => exprs([&**a, &**b], out),
        K::Ternary(a, b, c) => exprs([&**a, &**b, &**c], out),
        K::Unary(_, a)
        | K::IncDec { target: a, .. }
        | K::MultiAssign { value: a, .. }
        | K::Prop { obj: a, .. }
        | K::Spread { obj: a, .. }
        | K::Cast { expr: a, .. }
        | K::InstanceOf { expr: a, .. }
        | K::MethodRef { target: a, .. } => out.push(Node::Expr(a)),
        K::Method { obj, args, .. } => {
            out.push(Node::Expr(obj));
            exprs(args, out);
        }
        K::CallValue { callee, args } => {
            out.push(Node::Expr(callee));
            exprs(args, out);
        }
        K::Call { args, .. } | K::New { args, .. } => exprs(args, out),
        K::Closure(c) => {
            exprs(c.params.iter().filter_map(|p| p.default.as_ref()), out);
            stmts(&c.body, out);
        }
        K::Switch(sw) => switch_children(sw, out),
    }
}

fn stmt_children<'a>(s: &'a Stmt, out: &mut Vec<Node<'a>>) {
    use StmtKind as K;
    match &s.kind {
        K::Expr(e) | K::MultiDecl { init: e, .. } | K::Throw(e) => out.push(Node::Expr(e)),
        K::Decl { init, .. } => exprs(init, out),
        K::Return(e) => exprs(e, out),
        K::Block(body) | K::Seq(body) => stmts(body, out),
        K::If { cond, then, els } => {
            out.push(Node::Expr(cond));
            out.push(Node::Stmt(then));
            stmts(els.as_deref(), out);
        }
        K::While { cond, body } | K::DoWhile { body, cond } => {
            out.push(Node::Expr(cond));
            out.push(Node::Stmt(body));
        }
        K::For {
            init,
            cond,
            update,
            body,
        } => {
            stmts(init, out);
            exprs(cond, out);
            exprs(update, out);
            out.push(Node::Stmt(body));
        }
        K::ForIn { iter, body, .. } => {
            out.push(Node::Expr(iter));
            out.push(Node::Stmt(body));
        }
        K::Switch(sw) => switch_children(sw, out),
        K::Try {
            body,
            catches,
            finally,
        } => {
            stmts(body, out);
            for c in catches {
                stmts(&c.body, out);
            }
            stmts(finally.iter().flatten(), out);
        }
        K::Assert(a, b) => {
            out.push(Node::Expr(a));
            exprs(b, out);
        }
        K::Break | K::Continue | K::Empty => {}
    }
}

/// The height of the tree under `node` (a leaf is 1), counted without recursion.
pub(crate) fn height(node: Node<'_>) -> usize {
    let mut highest = 0;
    let mut stack = vec![(node, 1)];
    let mut children = Vec::new();
    while let Some((node, level)) = stack.pop() {
        highest = highest.max(level);
        node.children(&mut children);
        stack.extend(children.drain(..).map(|c| (c, level + 1)));
    }
    highest
}

impl Expr {
    /// The operand a postfix or binary operator was applied to, the one a chain
    /// (`a + b + c`, `a.b().c()`) grows from; `None` for other nodes.
    pub(crate) fn chained_operand(&self) -> Option<&Expr> {
        use ExprKind as K;
        match &self.kind {
            K::Range { from: a, .. }
            | K::Binary(_, a, _)
            | K::And(a, _)
            | K::Or(a, _)
            | K::Elvis(a, _)
            | K::Ternary(a, _, _)
            | K::Assign { target: a, .. }
            | K::ElvisAssign { target: a, .. }
            | K::DynProp { obj: a, .. }
            | K::Index { obj: a, .. }
            | K::IncDec { target: a, .. }
            | K::Prop { obj: a, .. }
            | K::Spread { obj: a, .. }
            | K::Cast { expr: a, .. }
            | K::InstanceOf { expr: a, .. }
            | K::MethodRef { target: a, .. }
            | K::Method { obj: a, .. }
            | K::CallValue { callee: a, .. } => Some(a),
            _ => None,
        }
    }
}
