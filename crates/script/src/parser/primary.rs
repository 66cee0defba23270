//! Primaries and postfix chains: literals, GStrings, lists and maps, closures and lambdas,
//! `new`, calls with trailing closures, `.`/`?.`/`*.`/`[…]`, and command calls (`println x`).

use std::rc::Rc;

use super::expr::bx;
use super::{PResult, Parser, RESERVED};
use crate::ast::*;
use crate::diagnostic::{ScriptError, Span};
use crate::lexer::{Part, Tok, lex_range};
use crate::num::Dec;

impl Parser<'_> {
    pub(super) fn number_literal(&mut self, neg: bool) -> PResult<Expr> {
        let span = self.span();
        let t = self.tok().clone();
        self.bump();
        let sign = if neg { "-" } else { "" };
        let kind = match t {
            Tok::Int(s) => {
                let text = format!("{sign}{s}");
                let suffix = self
                    .src
                    .get(span.end as usize - 1..span.end as usize)
                    .unwrap_or("");
                match text.parse::<i128>() {
                    Ok(v) if matches!(suffix, "L" | "l") => ExprKind::Long(v as i64),
                    Ok(v) if matches!(suffix, "G" | "g") => ExprKind::BigInt(v),
                    Ok(v) if i32::try_from(v).is_ok() => ExprKind::Int(v as i32),
                    Ok(v) if i64::try_from(v).is_ok() => ExprKind::Long(v as i64),
                    Ok(v) => ExprKind::BigInt(v),
                    Err(_) => return Err(ScriptError::parse("this number is too large", span)),
                }
            }
            Tok::Decimal(s) => match Dec::parse(&format!("{sign}{s}")) {
                Some(d) => ExprKind::Dec(d),
                None => {
                    return Err(ScriptError::parse(
                        "this decimal number is out of range",
                        span,
                    ));
                }
            },
            Tok::Double(d) => ExprKind::Double(if neg { -d } else { d }),
            _ => return Err(ScriptError::parse("expected a number", span)),
        };
        Ok(Expr {
            kind,
            span: if neg {
                Span::new(span.start as usize - 1, span.end as usize)
            } else {
                span
            },
        })
    }

    pub(super) fn args(&mut self, close: &str) -> PResult<Vec<Expr>> {
        let mut args = Vec::new();
        let mut named: Vec<(Expr, Expr)> = Vec::new();
        let mut named_span = self.span();
        loop {
            self.skip_nl();
            if self.eat_op(close) {
                break;
            }
            if let Some(key) = self.map_key()? {
                if named.is_empty() {
                    named_span = key.span;
                }
                self.skip_nl();
                let v = self.expr()?;
                named.push((key, v));
            } else {
                args.push(self.expr()?);
            }
            self.skip_nl();
            if self.eat_op(close) {
                break;
            }
            self.expect_op(",")?;
        }
        if !named.is_empty() {
            args.insert(
                0,
                Expr {
                    kind: ExprKind::Map(named),
                    span: named_span,
                },
            );
        }
        Ok(args)
    }

    /// A map key followed by `:` (`name:`, `"str":`, `3:`, `(expr):`), or `None` with the
    /// position unchanged.
    pub(super) fn map_key(&mut self) -> PResult<Option<Expr>> {
        let span = self.span();
        if !self.is_op_at(1, ":") {
            if self.is_op("(") && !self.paren_is_lambda() {
                let save = self.pos;
                if let Ok(e) = self.paren_expr()
                    && self.eat_op(":")
                {
                    return Ok(Some(e));
                }
                self.pos = save;
            }
            return Ok(None);
        }
        let kind = match self.tok().clone() {
            Tok::Ident(s) => ExprKind::Str(Rc::from(s.as_str())),
            Tok::Str(s) => ExprKind::Str(Rc::from(s.as_str())),
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) => {
                let e = self.number_literal(false)?;
                self.bump();
                return Ok(Some(e));
            }
            Tok::GString(_) => {
                let e = self.primary()?;
                self.bump();
                return Ok(Some(e));
            }
            _ => return Ok(None),
        };
        self.bump();
        self.bump();
        Ok(Some(Expr { kind, span }))
    }

    pub(super) fn closure(&mut self) -> PResult<Expr> {
        let span = self.span();
        self.expect_op("{")?;
        self.enter()?;
        let save = self.pos;
        self.skip_nl();
        let mut params = Vec::new();
        let mut implicit_it = true;
        if self.eat_op("->") {
            implicit_it = false;
        } else if matches!(self.tok(), Tok::Ident(_)) {
            match self.params("->") {
                Ok(p) => {
                    params = p;
                    implicit_it = false;
                }
                Err(_) => self.pos = save,
            }
        }
        let body = self.stmts_until_close("this closure is never closed: add }", span)?;
        self.depth -= 1;
        let span = span.to(self.prev_span());
        Ok(Expr {
            kind: ExprKind::Closure(Rc::new(ClosureDef {
                params,
                implicit_it,
                body,
                span,
            })),
            span,
        })
    }

    /// `(a, b) -> …` or `x -> …`: the parameters are already known to be there.
    pub(super) fn lambda(&mut self, params: Vec<Param>, span: Span) -> PResult<Expr> {
        self.skip_nl();
        let body = if self.is_op("{") {
            self.block()?
        } else {
            let e = self.expr_bp(1)?;
            vec![Stmt {
                span: e.span,
                kind: StmtKind::Expr(e),
            }]
        };
        let span = span.to(self.prev_span());
        Ok(Expr {
            kind: ExprKind::Closure(Rc::new(ClosureDef {
                params,
                implicit_it: false,
                body,
                span,
            })),
            span,
        })
    }

    pub(super) fn paren_is_lambda(&self) -> bool {
        let mut depth = 0;
        let mut n = 0;
        loop {
            match self.tok_at(n) {
                Tok::Op("(") => depth += 1,
                Tok::Op(")") => {
                    depth -= 1;
                    if depth == 0 {
                        return self.is_op_at(n + 1, "->");
                    }
                }
                Tok::Eof => return false,
                _ => {}
            }
            n += 1;
        }
    }

    pub(super) fn gstring(&mut self, parts: Vec<Part>, span: Span) -> PResult<Expr> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Part::Lit(s) => out.push(GPart::Lit(Rc::from(s.as_str()))),
                Part::Expr(a, b) => {
                    let toks = lex_range(self.src, a, b)?;
                    let saved = (std::mem::replace(&mut self.toks, toks), self.pos);
                    self.pos = 0;
                    self.skip_nl();
                    let r = if matches!(self.tok(), Tok::Eof) {
                        Ok(Expr {
                            kind: ExprKind::Null,
                            span: Span::new(a, b),
                        })
                    } else {
                        self.expr().and_then(|e| {
                            self.skip_seps();
                            if matches!(self.tok(), Tok::Eof) {
                                Ok(e)
                            } else {
                                self.error("expected '}' to end the ${…} expression")
                            }
                        })
                    };
                    self.toks = saved.0;
                    self.pos = saved.1;
                    out.push(GPart::Expr(r?));
                }
                Part::Path(names, pspan) => {
                    let mut it = names.into_iter();
                    let first = it.next().unwrap_or_default();
                    let mut e = Expr {
                        kind: ExprKind::Var(self.name(&first)),
                        span: pspan,
                    };
                    let mut height = None;
                    for n in it {
                        let name = self.name(&n);
                        e = self.grown(
                            Expr {
                                kind: ExprKind::Prop {
                                    obj: bx(e),
                                    name,
                                    safe: false,
                                },
                                span: pspan,
                            },
                            &mut height,
                        )?;
                    }
                    out.push(GPart::Expr(e));
                }
            }
        }
        Ok(Expr {
            kind: ExprKind::GString(out),
            span,
        })
    }

    pub(super) fn primary(&mut self) -> PResult<Expr> {
        let span = self.span();
        let mk = |kind| Ok(Expr { kind, span });
        match self.tok().clone() {
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) => self.number_literal(false),
            Tok::Str(s) => {
                self.bump();
                mk(ExprKind::Str(Rc::from(s.as_str())))
            }
            Tok::GString(parts) => {
                self.bump();
                self.gstring(parts, span)
            }
            Tok::Op("(") => {
                if self.paren_is_lambda() {
                    self.bump();
                    let params = self.params(")")?;
                    self.expect_op("->")?;
                    return self.lambda(params, span);
                }
                self.bump();
                self.skip_nl();
                let e = self.expr()?;
                self.skip_nl();
                self.expect_op(")")?;
                Ok(Expr {
                    kind: e.kind,
                    span: span.to(self.prev_span()),
                })
            }
            Tok::Op("[") => self.list_or_map(),
            Tok::Op("{") => self.closure(),
            Tok::Ident(w) => self.word(&w, span),
            Tok::Newline | Tok::Eof => self.error("expected an expression but the line ended"),
            _ => self.error(format!(
                "expected an expression but found {}",
                self.describe()
            )),
        }
    }

    pub(super) fn word(&mut self, w: &str, span: Span) -> PResult<Expr> {
        let mk = |kind| Ok(Expr { kind, span });
        match w {
            "true" | "false" => {
                self.bump();
                mk(ExprKind::Bool(w == "true"))
            }
            "null" => {
                self.bump();
                mk(ExprKind::Null)
            }
            "this" => {
                self.bump();
                mk(ExprKind::This)
            }
            "new" => {
                self.bump();
                self.new_expr(span)
            }
            "switch" => {
                self.bump();
                let sw = self.switch_body()?;
                Ok(Expr {
                    kind: ExprKind::Switch(Box::new(sw)),
                    span: span.to(self.prev_span()),
                })
            }
            "java" | "groovy" | "javax" | "com" | "org" | "net" if self.is_op_at(1, ".") => {
                // a qualified class name: keep its last segment
                self.bump();
                let mut last = w.to_string();
                while self.is_op(".") {
                    let Tok::Ident(seg) = self.tok_at(1).clone() else {
                        break;
                    };
                    if last.starts_with(|c: char| c.is_ascii_uppercase()) {
                        break;
                    }
                    self.bump();
                    self.bump();
                    last = seg;
                }
                let n = self.name(&last);
                mk(ExprKind::Class(n))
            }
            _ => {
                if RESERVED.contains(&w) && !matches!(w, "def" | "var" | "in" | "as") {
                    return self.error(format!("'{w}' cannot be used here"));
                }
                if self.is_op_at(1, "->") && !self.no_lambda {
                    let name = self.ident()?;
                    self.bump();
                    return self.lambda(
                        vec![Param {
                            name,
                            ty: None,
                            default: None,
                        }],
                        span,
                    );
                }
                let n = self.ident()?;
                mk(ExprKind::Var(n))
            }
        }
    }

    pub(super) fn new_expr(&mut self, span: Span) -> PResult<Expr> {
        let ty = self.qualified_name()?;
        if self.is_op("<") {
            while !self.is_op("(") && !matches!(self.tok(), Tok::Eof | Tok::Newline) {
                self.bump();
            }
        }
        if self.is_op("[") {
            // new int[] {1, 2} or new String[3]
            self.bump();
            if self.eat_op("]") {
                self.skip_nl();
                let s = self.span();
                self.expect_op("{")?;
                let mut elems = Vec::new();
                loop {
                    self.skip_nl();
                    if self.eat_op("}") {
                        break;
                    }
                    elems.push(self.expr()?);
                    self.skip_nl();
                    if !self.eat_op(",") {
                        self.skip_nl();
                        if self.eat_op("}") {
                            break;
                        }
                        return Err(ScriptError::parse(
                            "expected ',' or '}' in the array initializer",
                            s,
                        ));
                    }
                }
                return Ok(Expr {
                    kind: ExprKind::NewArray { elems },
                    span: span.to(self.prev_span()),
                });
            }
            return self.error("sized arrays (new T[n]) are not supported; use a list literal");
        }
        self.expect_op("(")?;
        let args = self.args(")")?;
        Ok(Expr {
            kind: ExprKind::New { class: ty, args },
            span: span.to(self.prev_span()),
        })
    }

    pub(super) fn list_or_map(&mut self) -> PResult<Expr> {
        let span = self.span();
        self.expect_op("[")?;
        self.skip_nl();
        if self.is_op(":") && self.is_op_at(1, "]") {
            self.bump();
            self.bump();
            return Ok(Expr {
                kind: ExprKind::Map(Vec::new()),
                span: span.to(self.prev_span()),
            });
        }
        let mut items = Vec::new();
        let mut entries = Vec::new();
        loop {
            self.skip_nl();
            if self.eat_op("]") {
                break;
            }
            if items.is_empty()
                && let Some(k) = self.map_key()?
            {
                self.skip_nl();
                let v = self.expr()?;
                entries.push((k, v));
            } else if !entries.is_empty() {
                return self.error("expected 'key: value' in this map literal");
            } else {
                items.push(self.expr()?);
            }
            self.skip_nl();
            if self.eat_op("]") {
                break;
            }
            if !self.eat_op(",") {
                return Err(ScriptError::parse(
                    format!(
                        "this list or map is not closed: expected ',' or ']' but found {}",
                        self.describe()
                    ),
                    span,
                ));
            }
        }
        let span = span.to(self.prev_span());
        if !entries.is_empty() {
            return Ok(Expr {
                kind: ExprKind::Map(entries),
                span,
            });
        }
        Ok(Expr {
            kind: ExprKind::List(items),
            span,
        })
    }
}
