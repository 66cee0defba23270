//! Postfix chains — `.`, `?.`, `*.`, `.&`, `::`, `[…]`, `?[…]`, calls with trailing closures,
//! `++`/`--` — and command calls without parentheses (`println x`, `debug.error "…"`).

use super::expr::{bx, is_assignable};
use super::{PResult, Parser};
use crate::ast::*;
use crate::lexer::Tok;

impl Parser<'_> {
    /// Method calls, property access, subscripts, trailing closures and postfix `++`/`--`.
    pub(super) fn postfix(&mut self, mut e: Expr) -> PResult<Expr> {
        let mut height = None;
        loop {
            // a chain may continue on the next line with `.name`
            if matches!(self.tok(), Tok::Newline) {
                let mut n = 0;
                while matches!(self.tok_at(n), Tok::Newline) {
                    n += 1;
                }
                if self.is_op_at(n, ".") || self.is_op_at(n, "?.") || self.is_op_at(n, "*.") {
                    self.skip_nl();
                } else {
                    return Ok(e);
                }
            }
            let span = e.span;
            let op = match self.tok() {
                Tok::Op(o) => *o,
                _ => return Ok(e),
            };
            match op {
                "." | "?." | "*." | ".&" => {
                    self.bump();
                    self.skip_nl();
                    let safe = op == "?.";
                    let nspan = self.span();
                    if op == ".&" {
                        let name = self.ident()?;
                        e = self.grown(
                            Expr {
                                kind: ExprKind::MethodRef {
                                    target: bx(e),
                                    name,
                                },
                                span: span.to(nspan),
                            },
                            &mut height,
                        )?;
                        continue;
                    }
                    let name = match self.tok().clone() {
                        Tok::Ident(s) => {
                            self.bump();
                            self.name(&s)
                        }
                        Tok::Str(s) => {
                            self.bump();
                            self.name(&s)
                        }
                        Tok::GString(parts) => {
                            self.bump();
                            let g = self.gstring(parts, nspan)?;
                            if self.is_op("(") {
                                return self
                                    .error("calling a method by a computed name is not supported");
                            }
                            e = self.grown(
                                Expr {
                                    kind: ExprKind::DynProp {
                                        obj: bx(e),
                                        name: bx(g),
                                        safe,
                                    },
                                    span: span.to(nspan),
                                },
                                &mut height,
                            )?;
                            continue;
                        }
                        // `m.(k + '2')`: a property named by an expression
                        Tok::Op("(") if op != "*." => {
                            self.bump();
                            self.skip_nl();
                            let key = self.expr()?;
                            self.skip_nl();
                            self.expect_op(")")?;
                            if self.is_op("(") {
                                return self
                                    .error("calling a method by a computed name is not supported");
                            }
                            e = self.grown(
                                Expr {
                                    kind: ExprKind::DynProp {
                                        obj: bx(e),
                                        name: bx(key),
                                        safe,
                                    },
                                    span: span.to(self.prev_span()),
                                },
                                &mut height,
                            )?;
                            continue;
                        }
                        _ => {
                            return self
                                .error(format!("expected a property or method name after '{op}'"));
                        }
                    };
                    let full = span.to(nspan);
                    if self.is_op("(") || self.is_op("{") {
                        let mut args = Vec::new();
                        if self.eat_op("(") {
                            args = self.args(")")?;
                        }
                        while self.is_op("{") {
                            args.push(self.closure()?);
                        }
                        e = self.grown(
                            Expr {
                                kind: ExprKind::Method {
                                    obj: bx(e),
                                    name,
                                    args,
                                    safe,
                                    spread: op == "*.",
                                },
                                span: full,
                            },
                            &mut height,
                        )?;
                    } else if op == "*." {
                        e = self.grown(
                            Expr {
                                kind: ExprKind::Spread { obj: bx(e), name },
                                span: full,
                            },
                            &mut height,
                        )?;
                    } else {
                        e = self.grown(
                            Expr {
                                kind: ExprKind::Prop {
                                    obj: bx(e),
                                    name,
                                    safe,
                                },
                                span: full,
                            },
                            &mut height,
                        )?;
                    }
                }
                "(" => {
                    self.bump();
                    let mut args = self.args(")")?;
                    while self.is_op("{") {
                        args.push(self.closure()?);
                    }
                    let call = self.make_call(e, args);
                    e = self.grown(call, &mut height)?;
                }
                "{" if matches!(e.kind, ExprKind::Var(_)) => {
                    let mut args = Vec::new();
                    while self.is_op("{") {
                        args.push(self.closure()?);
                    }
                    let call = self.make_call(e, args);
                    e = self.grown(call, &mut height)?;
                }
                "[" => {
                    self.bump();
                    self.skip_nl();
                    let idx = self.index_expr()?;
                    e = self.grown(
                        Expr {
                            kind: ExprKind::Index {
                                obj: bx(e),
                                index: bx(idx),
                                safe: false,
                            },
                            span: span.to(self.prev_span()),
                        },
                        &mut height,
                    )?;
                }
                "?" if self.adjacent() && self.is_op_at(1, "[") => {
                    self.bump();
                    self.bump();
                    self.skip_nl();
                    let idx = self.index_expr()?;
                    e = self.grown(
                        Expr {
                            kind: ExprKind::Index {
                                obj: bx(e),
                                index: bx(idx),
                                safe: true,
                            },
                            span: span.to(self.prev_span()),
                        },
                        &mut height,
                    )?;
                }
                "++" | "--" => {
                    if !is_assignable(&e) {
                        return Ok(e);
                    }
                    self.bump();
                    let delta = if op == "++" { 1 } else { -1 };
                    e = self.grown(
                        Expr {
                            kind: ExprKind::IncDec {
                                target: bx(e),
                                delta,
                                prefix: false,
                            },
                            span: span.to(self.prev_span()),
                        },
                        &mut height,
                    )?;
                }
                "::" => {
                    self.bump();
                    let nspan = self.span();
                    let name = if self.eat_word("new") {
                        self.name("new")
                    } else {
                        self.ident()?
                    };
                    e = self.grown(
                        Expr {
                            kind: ExprKind::MethodRef {
                                target: bx(e),
                                name,
                            },
                            span: span.to(nspan),
                        },
                        &mut height,
                    )?;
                }
                _ => return Ok(e),
            }
        }
    }

    /// Inside `[…]`: one index, or several (`l[0, 2]`) which become a list.
    pub(super) fn index_expr(&mut self) -> PResult<Expr> {
        let first = self.expr()?;
        self.skip_nl();
        if self.eat_op("]") {
            return Ok(first);
        }
        let span = first.span;
        let mut items = vec![first];
        while self.eat_op(",") {
            self.skip_nl();
            items.push(self.expr()?);
            self.skip_nl();
        }
        self.expect_op("]")?;
        Ok(Expr {
            kind: ExprKind::List(items),
            span,
        })
    }

    pub(super) fn make_call(&mut self, callee: Expr, args: Vec<Expr>) -> Expr {
        let span = callee.span.to(self.prev_span());
        match callee.kind {
            ExprKind::Var(name) => Expr {
                kind: ExprKind::Call { name, args },
                span,
            },
            // `"println"("hi")`: a string names the method
            ExprKind::Str(name) => Expr {
                kind: ExprKind::Call {
                    name: self.name(&name),
                    args,
                },
                span,
            },
            ExprKind::Prop { obj, name, safe } => Expr {
                kind: ExprKind::Method {
                    obj,
                    name,
                    args,
                    safe,
                    spread: false,
                },
                span,
            },
            kind => Expr {
                kind: ExprKind::CallValue {
                    callee: bx(Expr {
                        kind,
                        span: callee.span,
                    }),
                    args,
                },
                span,
            },
        }
    }

    /// An expression statement, including command calls without parentheses:
    /// `println "x"`, `debug.error "failed"`, `x = foo 1 "get" 2`.
    pub(crate) fn expr_stmt(&mut self) -> PResult<Stmt> {
        let span = self.span();
        let e = self.expr()?;
        let e = match e.kind {
            ExprKind::Assign { target, op, value } if self.at_command_arg() => {
                let value = self.command_tail(*value)?;
                Expr {
                    span: e.span.to(value.span),
                    kind: ExprKind::Assign {
                        target,
                        op,
                        value: bx(value),
                    },
                }
            }
            kind => self.command_tail(Expr { kind, span: e.span })?,
        };
        Ok(Stmt {
            span,
            kind: StmtKind::Expr(e),
        })
    }

    /// A command expression after `e`: `e` called with arguments that have no parentheses,
    /// then the chain's `name args` pairs — `foo 1 "get" 2` is `foo(1)."get"(2)`, and a name
    /// without arguments at the end reads a property. `e` comes back as it is when it cannot
    /// be called (a path or a string naming a method) or no argument follows.
    pub(super) fn command_tail(&mut self, e: Expr) -> PResult<Expr> {
        let callable = matches!(
            e.kind,
            ExprKind::Var(_) | ExprKind::Prop { .. } | ExprKind::Str(_)
        );
        if !callable || !self.at_command_arg() {
            return Ok(e);
        }
        let args = self.command_args()?;
        let mut e = self.make_call(e, args);
        loop {
            let name = match self.tok() {
                Tok::Ident(s) if !matches!(s.as_str(), "in" | "instanceof" | "as") => s.clone(),
                Tok::Str(s) => s.to_string(),
                _ => return Ok(e),
            };
            let nspan = self.span();
            self.bump();
            let name = self.name(&name);
            if self.at_command_arg() {
                let args = self.command_args()?;
                e = Expr {
                    span: e.span.to(self.prev_span()),
                    kind: ExprKind::Method {
                        obj: bx(e),
                        name,
                        args,
                        safe: false,
                        spread: false,
                    },
                };
            } else {
                return Ok(Expr {
                    span: e.span.to(nspan),
                    kind: ExprKind::Prop {
                        obj: bx(e),
                        name,
                        safe: false,
                    },
                });
            }
        }
    }

    /// The arguments of a command call: expressions and `key: value` pairs, comma-separated.
    fn command_args(&mut self) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        loop {
            if let Some(key) = self.map_key()? {
                let v = self.expr()?;
                match args.first_mut() {
                    Some(Expr {
                        kind: ExprKind::Map(entries),
                        ..
                    }) => entries.push((key, v)),
                    _ => args.insert(
                        0,
                        Expr {
                            span: key.span,
                            kind: ExprKind::Map(vec![(key, v)]),
                        },
                    ),
                }
            } else {
                args.push(self.expr()?);
            }
            if !self.eat_op(",") {
                return Ok(args);
            }
            self.skip_nl();
        }
    }

    pub(super) fn at_command_arg(&self) -> bool {
        match self.tok() {
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) | Tok::Str(_) | Tok::GString(_) => true,
            Tok::Ident(w) => !matches!(w.as_str(), "in" | "instanceof" | "as"),
            Tok::Op(o) => matches!(*o, "!" | "~"),
            _ => false,
        }
    }
}
