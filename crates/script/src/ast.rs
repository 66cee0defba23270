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
