//! Expressions: a Pratt loop over Groovy's precedence table, then prefix operators, postfix
//! chains (`.`, `?.`, `*.`, `[…]`, calls, trailing closures) and primaries.

use super::{PResult, Parser};
use crate::ast::*;
use crate::diagnostic::ScriptError;
use crate::lexer::Tok;

fn binop(op: &str) -> Option<(u8, BinOp)> {
    Some(match op {
        "|" => (5, BinOp::BitOr),
        "^" => (6, BinOp::BitXor),
        "&" => (7, BinOp::BitAnd),
        "=~" => (8, BinOp::Find),
        "==~" => (8, BinOp::Match),
        "==" => (9, BinOp::Eq),
        "!=" => (9, BinOp::Ne),
        "<=>" => (9, BinOp::Cmp),
        "===" => (9, BinOp::Ident),
        "!==" => (9, BinOp::NotIdent),
        "<" => (10, BinOp::Lt),
        "<=" => (10, BinOp::Le),
        ">" => (10, BinOp::Gt),
        ">=" => (10, BinOp::Ge),
        "<<" => (11, BinOp::Shl),
        ">>" => (11, BinOp::Shr),
        ">>>" => (11, BinOp::Ushr),
        "+" => (12, BinOp::Add),
        "-" => (12, BinOp::Sub),
        "*" => (13, BinOp::Mul),
        "/" => (13, BinOp::Div),
        "%" => (13, BinOp::Mod),
        "**" => (14, BinOp::Pow),
        _ => return None,
    })
}

fn assign_op(op: &str) -> Option<Option<BinOp>> {
    Some(match op {
        "=" => None,
        "+=" => Some(BinOp::Add),
        "-=" => Some(BinOp::Sub),
        "*=" => Some(BinOp::Mul),
        "/=" => Some(BinOp::Div),
        "%=" => Some(BinOp::Mod),
        "**=" => Some(BinOp::Pow),
        "<<=" => Some(BinOp::Shl),
        ">>=" => Some(BinOp::Shr),
        "&=" => Some(BinOp::BitAnd),
        "|=" => Some(BinOp::BitOr),
        "^=" => Some(BinOp::BitXor),
        _ => return None,
    })
}

pub(super) fn bx(e: Expr) -> Box<Expr> {
    Box::new(e)
}

pub(super) fn is_assignable(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Var(_)
            | ExprKind::Prop { .. }
            | ExprKind::DynProp { .. }
            | ExprKind::Index { .. }
    )
}

impl Parser<'_> {
    pub(crate) fn expr(&mut self) -> PResult<Expr> {
        self.expr_bp(0)
    }

    pub(super) fn adjacent(&self) -> bool {
        let a = self.toks[self.pos.min(self.toks.len() - 1)].span;
        let b = self.toks[(self.pos + 1).min(self.toks.len() - 1)].span;
        a.end == b.start
    }

    pub(super) fn expr_bp(&mut self, min_bp: u8) -> PResult<Expr> {
        self.enter()?;
        let r = self.expr_bp_inner(min_bp);
        self.depth -= 1;
        r
    }

    pub(super) fn expr_bp_inner(&mut self, min_bp: u8) -> PResult<Expr> {
        let lhs = self.unary()?;
        self.binary_loop(lhs, min_bp)
    }

    /// The binary operators that follow `lhs`, those binding at least as tightly as `min_bp`.
    fn binary_loop(&mut self, mut lhs: Expr, min_bp: u8) -> PResult<Expr> {
        let mut height = None;
        loop {
            let op = match self.tok() {
                Tok::Op(o) => *o,
                Tok::Ident(w) if w == "in" || w == "instanceof" || w == "as" => match w.as_str() {
                    "in" => "in",
                    "instanceof" => "instanceof",
                    _ => "as",
                },
                Tok::Newline if min_bp <= 2 => {
                    // a ternary may continue on the next line: `cond\n ? a\n : b`
                    let mut n = 0;
                    while matches!(self.tok_at(n), Tok::Newline) {
                        n += 1;
                    }
                    if self.is_op_at(n, "?")
                        || self.is_op_at(n, "?:")
                        || (self.is_op_at(n, ":") && min_bp == 2)
                    {
                        self.skip_nl();
                        continue;
                    }
                    break;
                }
                _ => break,
            };
            let span = lhs.span;
            if let Some(aop) = assign_op(op) {
                if min_bp > 1 {
                    break;
                }
                if !is_assignable(&lhs) {
                    return self.error(
                        "the left side of this assignment is not a variable, property or element",
                    );
                }
                self.bump();
                self.skip_nl();
                let value = self.expr_bp(1)?;
                let s = span.to(value.span);
                lhs = self.grown(
                    Expr {
                        kind: ExprKind::Assign {
                            target: bx(lhs),
                            op: aop,
                            value: bx(value),
                        },
                        span: s,
                    },
                    &mut height,
                )?;
                continue;
            }
            match op {
                "?=" => {
                    if min_bp > 1 {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let value = self.expr_bp(1)?;
                    let s = span.to(value.span);
                    lhs = self.grown(
                        Expr {
                            kind: ExprKind::ElvisAssign {
                                target: bx(lhs),
                                value: bx(value),
                            },
                            span: s,
                        },
                        &mut height,
                    )?;
                }
                "?" => {
                    if min_bp > 2 || (self.adjacent() && self.is_op_at(1, "[")) {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let then = self.expr_bp(1)?;
                    self.skip_nl();
                    self.expect_op(":")?;
                    self.skip_nl();
                    let els = self.expr_bp(2)?;
                    let s = span.to(els.span);
                    lhs = self.grown(
                        Expr {
                            kind: ExprKind::Ternary(bx(lhs), bx(then), bx(els)),
                            span: s,
                        },
                        &mut height,
                    )?;
                }
                "?:" => {
                    if min_bp > 2 {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = self.expr_bp(2)?;
                    let s = span.to(r.span);
                    lhs = self.grown(
                        Expr {
                            kind: ExprKind::Elvis(bx(lhs), bx(r)),
                            span: s,
                        },
                        &mut height,
                    )?;
                }
                "||" | "&&" => {
                    let bp = if op == "||" { 3 } else { 4 };
                    if min_bp > bp {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = self.expr_bp(bp + 1)?;
                    let s = span.to(r.span);
                    let kind = if op == "||" {
                        ExprKind::Or(bx(lhs), bx(r))
                    } else {
                        ExprKind::And(bx(lhs), bx(r))
                    };
                    lhs = self.grown(Expr { kind, span: s }, &mut height)?;
                }
                ".." | "..<" => {
                    if min_bp > 11 {
                        break;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = self.expr_bp(12)?;
                    let s = span.to(r.span);
                    lhs = self.grown(
                        Expr {
                            kind: ExprKind::Range {
                                from: bx(lhs),
                                to: bx(r),
                                exclusive: op == "..<",
                            },
                            span: s,
                        },
                        &mut height,
                    )?;
                }
                "in" | "!" => {
                    let negated = op == "!";
                    if negated
                        && !(self.adjacent()
                            && (self.is_word_at(1, "in") || self.is_word_at(1, "instanceof")))
                    {
                        break;
                    }
                    if min_bp > 10 {
                        break;
                    }
                    if negated {
                        self.bump();
                    }
                    if self.eat_word("instanceof") {
                        let ty = self.parse_type()?;
                        lhs = self.grown(
                            Expr {
                                kind: ExprKind::InstanceOf {
                                    expr: bx(lhs),
                                    ty,
                                    negated,
                                },
                                span: span.to(self.prev_span()),
                            },
                            &mut height,
                        )?;
                        continue;
                    }
                    self.bump();
                    self.skip_nl();
                    let r = self.expr_bp(11)?;
                    let s = span.to(r.span);
                    let bop = if negated { BinOp::NotIn } else { BinOp::In };
                    lhs = self.grown(
                        Expr {
                            kind: ExprKind::Binary(bop, bx(lhs), bx(r)),
                            span: s,
                        },
                        &mut height,
                    )?;
                }
                // `as` and `instanceof` bind tighter than `<` and `in` (`2 in [1, 2] as Set`
                // is `2 in ([1, 2] as Set)`), looser than `+` (`1 + 2 as String` is "3")
                "instanceof" | "as" => {
                    if min_bp > 11 {
                        break;
                    }
                    self.bump();
                    let ty = self.parse_type()?;
                    let s = span.to(self.prev_span());
                    let kind = if op == "as" {
                        ExprKind::Cast { expr: bx(lhs), ty }
                    } else {
                        ExprKind::InstanceOf {
                            expr: bx(lhs),
                            ty,
                            negated: false,
                        }
                    };
                    lhs = self.grown(Expr { kind, span: s }, &mut height)?;
                }
                _ => {
                    // `>>` and `>>>` come as adjacent `>` tokens: the lexer keeps `>` apart
                    // for generics (`Map<String, List<String>>`)
                    let joined = |p: &Self, k: usize| {
                        p.is_op_at(k, ">") && {
                            let (a, b) = (p.toks.get(p.pos + k - 1), p.toks.get(p.pos + k));
                            matches!((a, b), (Some(a), Some(b)) if a.span.end == b.span.start)
                        }
                    };
                    let (op, extra) = if op == ">" && joined(self, 1) {
                        if joined(self, 2) {
                            (">>>", 2)
                        } else {
                            (">>", 1)
                        }
                    } else {
                        (op, 0)
                    };
                    let Some((bp, bop)) = binop(op) else { break };
                    if min_bp > bp {
                        break;
                    }
                    for _ in 0..extra {
                        self.bump();
                    }
                    self.bump();
                    self.skip_nl();
                    // Every binary operator is left-associative, `**` too (`2 ** 3 ** 2` is 64).
                    let r = self.expr_bp(bp + 1)?;
                    let s = span.to(r.span);
                    lhs = self.grown(
                        Expr {
                            kind: ExprKind::Binary(bop, bx(lhs), bx(r)),
                            span: s,
                        },
                        &mut height,
                    )?;
                }
            }
        }
        Ok(lhs)
    }

    pub(super) fn unary(&mut self) -> PResult<Expr> {
        let span = self.span();
        let op = match self.tok() {
            Tok::Op(o) => *o,
            _ => "",
        };
        match op {
            "-" if matches!(
                self.tok_at(1),
                Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_)
            ) && !self.is_op_at(2, "**") =>
            {
                self.bump();
                let lit = self.number_literal(true)?;
                self.postfix(lit)
            }
            "-" | "+" | "!" | "~" => {
                self.bump();
                self.enter()?;
                let e = self.unary();
                self.depth -= 1;
                let mut e = e?;
                // A sign binds more loosely than `**`: `-2 ** 2` is -(2 ** 2).
                if matches!(op, "-" | "+") && self.is_op("**") {
                    e = self.binary_loop(e, 14)?;
                }
                let s = span.to(e.span);
                let u = match op {
                    "-" => UnOp::Neg,
                    "+" => UnOp::Plus,
                    "!" => UnOp::Not,
                    _ => UnOp::BitNot,
                };
                Ok(Expr {
                    kind: ExprKind::Unary(u, bx(e)),
                    span: s,
                })
            }
            "++" | "--" => {
                self.bump();
                self.enter()?;
                let e = self.unary();
                self.depth -= 1;
                let e = e?;
                if !is_assignable(&e) {
                    return Err(ScriptError::parse(
                        format!("'{op}' needs a variable, property or element"),
                        e.span,
                    ));
                }
                let s = span.to(e.span);
                Ok(Expr {
                    kind: ExprKind::IncDec {
                        target: bx(e),
                        delta: if op == "++" { 1 } else { -1 },
                        prefix: true,
                    },
                    span: s,
                })
            }
            "(" if self.at_cast() => {
                self.bump();
                let ty = self.parse_type()?;
                self.expect_op(")")?;
                self.enter()?;
                let e = self.unary();
                self.depth -= 1;
                let e = e?;
                let s = span.to(e.span);
                Ok(Expr {
                    kind: ExprKind::Cast { expr: bx(e), ty },
                    span: s,
                })
            }
            _ => {
                let p = self.primary()?;
                self.postfix(p)
            }
        }
    }

    /// `(Type) operand`: a primitive or capitalised type in parentheses followed by an operand.
    pub(super) fn at_cast(&self) -> bool {
        let Tok::Ident(name) = self.tok_at(1) else {
            return false;
        };
        let typeish = super::PRIMITIVES.contains(&name.as_str())
            || name.starts_with(|c: char| c.is_ascii_uppercase());
        if !typeish {
            return false;
        }
        let mut n = 2;
        while self.is_op_at(n, ".") && matches!(self.tok_at(n + 1), Tok::Ident(_)) {
            n += 2;
        }
        while self.is_op_at(n, "[") && self.is_op_at(n + 1, "]") {
            n += 2;
        }
        if !self.is_op_at(n, ")") {
            return false;
        }
        match self.tok_at(n + 1) {
            Tok::Ident(w) => !matches!(w.as_str(), "in" | "instanceof" | "as"),
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) | Tok::Str(_) | Tok::GString(_) => true,
            Tok::Op(o) => matches!(*o, "(" | "[" | "!"),
            _ => false,
        }
    }
}
