//! Statements: blocks, declarations (`def`, typed, multiple), control flow, `switch` in both
//! forms, `try`/`catch`/`finally`.

use super::*;

impl Parser<'_> {
    /// `{ statements }`
    pub(super) fn block(&mut self) -> PResult<Vec<Stmt>> {
        self.expect_op("{")?;
        self.enter()?;
        let open = self.prev_span();
        let body = self.stmts_until_close("this block is never closed: add }", open)?;
        self.depth -= 1;
        Ok(body)
    }

    /// Statements up to the `}` that closes a block or closure body (consumed); `unclosed` is
    /// the error, at `open`, when the script ends first.
    pub(super) fn stmts_until_close(
        &mut self,
        unclosed: &'static str,
        open: Span,
    ) -> PResult<Vec<Stmt>> {
        let mut body = Vec::new();
        loop {
            self.skip_seps();
            if self.eat_op("}") {
                return Ok(body);
            }
            if matches!(self.tok(), Tok::Eof) {
                return Err(ScriptError::parse(unclosed, open));
            }
            body.push(self.stmt()?);
            self.end_of_stmt()?;
        }
    }

    /// A statement used as a body: a block or a single statement.
    pub(super) fn body(&mut self) -> PResult<Stmt> {
        self.skip_nl();
        if self.is_op("{") {
            let span = self.span();
            let b = self.block()?;
            return Ok(Stmt {
                kind: StmtKind::Block(b),
                span,
            });
        }
        if self.is_op(";") {
            return Ok(Stmt {
                kind: StmtKind::Empty,
                span: self.span(),
            });
        }
        self.stmt()
    }

    pub(super) fn paren_expr(&mut self) -> PResult<Expr> {
        self.expect_op("(")?;
        self.skip_nl();
        let e = self.expr()?;
        self.skip_nl();
        self.expect_op(")")?;
        Ok(e)
    }

    pub(crate) fn stmt(&mut self) -> PResult<Stmt> {
        self.enter()?;
        let r = self.stmt_inner();
        self.depth -= 1;
        r
    }

    pub(super) fn stmt_inner(&mut self) -> PResult<Stmt> {
        let span = self.span();
        let mk = |kind| Ok(Stmt { kind, span });
        let word = match self.tok() {
            Tok::Ident(s) => s.clone(),
            Tok::Op("{") => {
                let b = self.block()?;
                return mk(StmtKind::Block(b));
            }
            _ => String::new(),
        };
        match word.as_str() {
            "if" => {
                self.bump();
                let cond = self.paren_expr()?;
                let then = Box::new(self.body()?);
                let save = self.pos;
                self.skip_seps();
                let els = if self.eat_word("else") {
                    Some(Box::new(self.body()?))
                } else {
                    self.pos = save;
                    None
                };
                mk(StmtKind::If { cond, then, els })
            }
            "while" => {
                self.bump();
                let cond = self.paren_expr()?;
                let body = Box::new(self.body()?);
                mk(StmtKind::While { cond, body })
            }
            "do" => {
                self.bump();
                let body = Box::new(self.body()?);
                self.skip_seps();
                if !self.eat_word("while") {
                    return self.error("expected 'while (…)' after the body of 'do'");
                }
                let cond = self.paren_expr()?;
                mk(StmtKind::DoWhile { body, cond })
            }
            "for" => {
                self.bump();
                self.for_stmt(span)
            }
            "switch" => {
                self.bump();
                let sw = self.switch_body()?;
                mk(StmtKind::Switch(Box::new(sw)))
            }
            "return" => {
                self.bump();
                if matches!(self.tok(), Tok::Newline | Tok::Eof)
                    || self.is_op(";")
                    || self.is_op("}")
                {
                    return mk(StmtKind::Return(None));
                }
                let e = self.expr()?;
                mk(StmtKind::Return(Some(e)))
            }
            "break" | "continue" => {
                self.bump();
                if let Tok::Ident(_) = self.tok() {
                    return self.error("labelled break/continue is not supported");
                }
                mk(if word == "break" {
                    StmtKind::Break
                } else {
                    StmtKind::Continue
                })
            }
            "throw" => {
                self.bump();
                let e = self.expr()?;
                mk(StmtKind::Throw(e))
            }
            "assert" => {
                self.bump();
                let e = self.expr()?;
                let msg = if self.eat_op(":") || self.eat_op(",") {
                    Some(self.expr()?)
                } else {
                    None
                };
                mk(StmtKind::Assert(e, msg))
            }
            "try" => {
                self.bump();
                self.skip_nl();
                let body = self.block()?;
                let mut catches = Vec::new();
                let mut finally = None;
                loop {
                    let save = self.pos;
                    self.skip_nl();
                    if self.eat_word("catch") {
                        self.expect_op("(")?;
                        self.skip_modifiers();
                        let mut types = Vec::new();
                        let name;
                        loop {
                            if matches!(self.tok_at(1), Tok::Op(")")) {
                                name = self.ident()?;
                                break;
                            }
                            types.push(self.parse_type()?.name);
                            if self.eat_op("|") {
                                continue;
                            }
                            name = self.ident()?;
                            break;
                        }
                        self.expect_op(")")?;
                        self.skip_nl();
                        let b = self.block()?;
                        catches.push(Catch {
                            types,
                            name,
                            body: b,
                        });
                    } else if self.eat_word("finally") {
                        self.skip_nl();
                        finally = Some(self.block()?);
                        break;
                    } else {
                        self.pos = save;
                        break;
                    }
                }
                if catches.is_empty() && finally.is_none() {
                    return self.error("'try' needs a 'catch' or 'finally' block");
                }
                mk(StmtKind::Try {
                    body,
                    catches,
                    finally,
                })
            }
            "def" | "var" | "final" => {
                self.skip_modifiers();
                // `def String s = …` is legal Groovy: the type after `def` counts
                let _ = self.eat_word("def") || self.eat_word("var");
                if self.at_typed_decl() {
                    return self.typed_decl(span);
                }
                if self.is_op("(") {
                    return self.multi_decl(span);
                }
                self.decls(None, span)
            }
            "class" | "interface" | "enum" => {
                self.error("a class must be declared at the top level of the script")
            }
            "else" => self.error("'else' without a matching 'if'"),
            "case" | "default" => self.error("'case' outside of a 'switch'"),
            "static" | "private" | "public" | "protected" => {
                self.skip_modifiers();
                self.stmt_inner()
            }
            _ => {
                if self.at_typed_decl() {
                    return self.typed_decl(span);
                }
                if let Some(s) = self.try_multi_assign()? {
                    return Ok(s);
                }
                self.expr_stmt()
            }
        }
    }

    pub(super) fn typed_decl(&mut self, span: Span) -> PResult<Stmt> {
        let ty = self.parse_type()?;
        self.decls(Some(ty), span)
    }

    /// `(a, b) = [1, 2]`: assignment to several existing variables.
    pub(super) fn try_multi_assign(&mut self) -> PResult<Option<Stmt>> {
        if !self.is_op("(") {
            return Ok(None);
        }
        let span = self.span();
        let save = self.pos;
        self.bump();
        let mut names = Vec::new();
        while let Tok::Ident(_) = self.tok() {
            names.push(self.ident()?);
            if !self.eat_op(",") {
                break;
            }
        }
        if names.len() < 2 || !self.eat_op(")") || !self.eat_op("=") {
            self.pos = save;
            return Ok(None);
        }
        self.skip_nl();
        let value = self.expr()?;
        let e = Expr {
            span: span.to(value.span),
            kind: ExprKind::MultiAssign {
                names,
                value: Box::new(value),
            },
        };
        Ok(Some(Stmt {
            span,
            kind: StmtKind::Expr(e),
        }))
    }

    pub(super) fn multi_decl(&mut self, span: Span) -> PResult<Stmt> {
        self.expect_op("(")?;
        let mut names = Vec::new();
        loop {
            if matches!(self.tok_at(1), Tok::Ident(_)) {
                self.parse_type()?;
            }
            names.push(self.ident()?);
            if self.eat_op(")") {
                break;
            }
            self.expect_op(",")?;
        }
        self.expect_op("=")?;
        self.skip_nl();
        let init = self.expr()?;
        Ok(Stmt {
            kind: StmtKind::MultiDecl { names, init },
            span,
        })
    }

    pub(super) fn decls(&mut self, ty: Option<TypeName>, span: Span) -> PResult<Stmt> {
        let mut out = Vec::new();
        loop {
            let dspan = self.span();
            let name = self.ident()?;
            let init = if self.eat_op("=") {
                self.skip_nl();
                let e = self.expr()?;
                Some(self.command_tail(e)?)
            } else {
                None
            };
            out.push(Stmt {
                kind: StmtKind::Decl {
                    name,
                    ty: ty.clone(),
                    init,
                },
                span: dspan,
            });
            if !self.eat_op(",") {
                break;
            }
            self.skip_nl();
        }
        if out.len() == 1
            && let Some(s) = out.pop()
        {
            return Ok(s);
        }
        Ok(Stmt {
            kind: StmtKind::Seq(out),
            span,
        })
    }

    pub(super) fn for_stmt(&mut self, span: Span) -> PResult<Stmt> {
        self.expect_op("(")?;
        self.skip_nl();
        // for (x in iter), for (Type x in iter), for (Type x : iter)
        let save = self.pos;
        self.skip_modifiers();
        let _ = self.eat_word("def") || self.eat_word("var");
        if matches!(self.tok(), Tok::Ident(_))
            && !(self.is_word_at(1, "in") || self.is_op_at(1, ":"))
        {
            let _ = self.parse_type();
        }
        if matches!(self.tok(), Tok::Ident(_))
            && (self.is_word_at(1, "in") || self.is_op_at(1, ":"))
        {
            let name = self.ident()?;
            self.bump();
            self.skip_nl();
            let iter = self.expr()?;
            self.skip_nl();
            self.expect_op(")")?;
            let body = Box::new(self.body()?);
            return Ok(Stmt {
                kind: StmtKind::ForIn { name, iter, body },
                span,
            });
        }
        self.pos = save;
        let mut init = Vec::new();
        if !self.is_op(";") {
            if self.is_word("def") || self.is_word("var") || self.at_typed_decl() {
                let s = self.stmt()?;
                init.push(s);
            } else {
                loop {
                    let e = self.expr()?;
                    init.push(Stmt {
                        span: e.span,
                        kind: StmtKind::Expr(e),
                    });
                    if !self.eat_op(",") {
                        break;
                    }
                }
            }
        }
        self.expect_op(";")?;
        self.skip_nl();
        let cond = if self.is_op(";") {
            None
        } else {
            Some(self.expr()?)
        };
        self.expect_op(";")?;
        self.skip_nl();
        let mut update = Vec::new();
        if !self.is_op(")") {
            loop {
                update.push(self.expr()?);
                if !self.eat_op(",") {
                    break;
                }
            }
        }
        self.skip_nl();
        self.expect_op(")")?;
        let body = Box::new(self.body()?);
        Ok(Stmt {
            kind: StmtKind::For {
                init,
                cond,
                update,
                body,
            },
            span,
        })
    }

    /// After `switch`: `(subject) { case … }`, in either the `:` or the `->` form.
    pub(super) fn switch_body(&mut self) -> PResult<SwitchDef> {
        let subject = self.paren_expr()?;
        self.skip_nl();
        self.expect_op("{")?;
        self.enter()?;
        let mut cases = Vec::new();
        let mut arrow = None;
        loop {
            self.skip_seps();
            if self.eat_op("}") {
                break;
            }
            let cspan = self.span();
            let mut values = Vec::new();
            if self.eat_word("case") {
                loop {
                    self.no_lambda = true;
                    let v = self.expr();
                    self.no_lambda = false;
                    values.push(v?);
                    if !self.eat_op(",") {
                        break;
                    }
                    self.skip_nl();
                }
            } else if !self.eat_word("default") {
                return self.error(format!(
                    "expected 'case', 'default' or '}}' in the switch but found {}",
                    self.describe()
                ));
            }
            let is_arrow = if self.eat_op("->") {
                true
            } else if self.eat_op(":") {
                false
            } else {
                return self.error(format!(
                    "expected ':' or '->' after the case but found {}",
                    self.describe()
                ));
            };
            if *arrow.get_or_insert(is_arrow) != is_arrow {
                return self.error("a switch cannot mix 'case …:' and 'case … ->'");
            }
            let mut body = Vec::new();
            if is_arrow {
                self.skip_nl();
                if self.is_op("{") {
                    let s = self.span();
                    let b = self.block()?;
                    body.push(Stmt {
                        kind: StmtKind::Block(b),
                        span: s,
                    });
                } else {
                    body.push(self.stmt()?);
                }
            } else {
                loop {
                    self.skip_seps();
                    if self.is_word("case")
                        || self.is_word("default")
                        || self.is_op("}")
                        || matches!(self.tok(), Tok::Eof)
                    {
                        break;
                    }
                    body.push(self.stmt()?);
                    self.end_of_stmt()?;
                }
            }
            cases.push(Case {
                values,
                body,
                span: cspan,
            });
        }
        self.depth -= 1;
        Ok(SwitchDef {
            subject,
            cases,
            arrow: arrow.unwrap_or(false),
        })
    }
}
