//! Statements: blocks and scopes, loops, `switch`, `try`/`catch`/`finally`, `throw`.

use super::*;

impl Interp<'_> {
    /// Runs statements in a new block scope and yields the last expression statement's value.
    pub(crate) fn exec_body_value(&mut self, body: &[Stmt]) -> R<Value> {
        let mark = self.env.len();
        let r = self.exec_seq(body);
        self.env.truncate(mark);
        r
    }

    pub(super) fn exec_seq(&mut self, body: &[Stmt]) -> R<Value> {
        let mut last = Value::Null;
        for s in body {
            last = self.exec(s)?;
        }
        Ok(last)
    }

    pub(super) fn exec_scoped(&mut self, s: &Stmt) -> R<Value> {
        let mark = self.env.len();
        let r = self.exec(s);
        self.env.truncate(mark);
        r
    }

    pub(crate) fn exec(&mut self, s: &Stmt) -> R<Value> {
        self.step(s.span)?;
        match &s.kind {
            StmtKind::Expr(e) => self.eval(e),
            StmtKind::Decl { name, ty, init } => {
                let mut v = match init {
                    Some(e) => self.eval(e)?,
                    None => ty.as_ref().map_or(Value::Null, ops::default_of),
                };
                if let Some(t) = ty {
                    v = ops::coerce_declared(self, v, t, s.span)?;
                }
                // A declaration is an expression in Groovy: a method or closure ending in one
                // returns the declared value.
                self.declare(name.clone(), v.clone());
                Ok(v)
            }
            StmtKind::MultiDecl { names, init } => {
                let v = self.eval(init)?;
                let items = v.iter_items().unwrap_or_default();
                for (i, n) in names.iter().enumerate() {
                    self.declare(n.clone(), items.get(i).cloned().unwrap_or(Value::Null));
                }
                Ok(Value::Null)
            }
            StmtKind::Seq(list) => {
                for s in list {
                    self.exec(s)?;
                }
                Ok(Value::Null)
            }
            StmtKind::Block(b) => self.exec_body_value(b),
            StmtKind::If { cond, then, els } => {
                if self.eval(cond)?.truthy() {
                    self.exec_scoped(then)
                } else if let Some(e) = els {
                    self.exec_scoped(e)
                } else {
                    Ok(Value::Null)
                }
            }
            StmtKind::While { cond, body } => {
                while self.eval(cond)?.truthy() {
                    self.step(s.span)?;
                    match self.exec_scoped(body) {
                        Ok(_) | Err(Flow::Continue) => {}
                        Err(Flow::Break) => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(Value::Null)
            }
            StmtKind::DoWhile { body, cond } => {
                loop {
                    self.step(s.span)?;
                    match self.exec_scoped(body) {
                        Ok(_) | Err(Flow::Continue) => {}
                        Err(Flow::Break) => break,
                        Err(e) => return Err(e),
                    }
                    if !self.eval(cond)?.truthy() {
                        break;
                    }
                }
                Ok(Value::Null)
            }
            StmtKind::For {
                init,
                cond,
                update,
                body,
            } => {
                let mark = self.env.len();
                let r = self.exec_for(init, cond.as_ref(), update, body, s.span);
                self.env.truncate(mark);
                r.map(|_| Value::Null)
            }
            StmtKind::ForIn { name, iter, body } => {
                let it = self.eval(iter)?;
                if let Value::Range(r) = &it {
                    // ranges are walked lazily: `for (i in 0..<n)` never builds a list
                    for i in 0..r.len() {
                        self.step(s.span)?;
                        let mark = self.env.len();
                        self.declare(name.clone(), r.get(i));
                        let res = self.exec(body);
                        self.env.truncate(mark);
                        match res {
                            Ok(_) | Err(Flow::Continue) => {}
                            Err(Flow::Break) => break,
                            Err(e) => return Err(e),
                        }
                    }
                    return Ok(Value::Null);
                }
                let Some(items) = self.items(&it, s.span)? else {
                    return self.fail(
                        "MissingMethodException",
                        format!("cannot iterate over {}", it.describe()),
                        iter.span,
                    );
                };
                for item in items {
                    self.step(s.span)?;
                    let mark = self.env.len();
                    self.declare(name.clone(), item);
                    let r = self.exec(body);
                    self.env.truncate(mark);
                    match r {
                        Ok(_) | Err(Flow::Continue) => {}
                        Err(Flow::Break) => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(Value::Null)
            }
            StmtKind::Switch(sw) => match self.eval_switch(sw) {
                Err(Flow::Break) => Ok(Value::Null),
                other => other,
            },
            StmtKind::Return(e) => {
                let v = match e {
                    Some(e) => self.eval(e)?,
                    None => Value::Null,
                };
                Err(Flow::Return(v))
            }
            StmtKind::Break => Err(Flow::Break),
            StmtKind::Continue => Err(Flow::Continue),
            StmtKind::Throw(e) => {
                let v = self.eval(e)?;
                Err(self.throw_value(v, e.span))
            }
            StmtKind::Try {
                body,
                catches,
                finally,
            } => self.exec_try(body, catches, finally.as_deref()),
            StmtKind::Assert(cond, msg) => {
                if self.eval(cond)?.truthy() {
                    return Ok(Value::Null);
                }
                let m = match msg {
                    Some(m) => self.eval(m)?.to_string(),
                    None => format!("assert failed: {}", self.source_text(cond.span)),
                };
                self.fail("AssertionError", m, cond.span)
            }
            StmtKind::Empty => Ok(Value::Null),
        }
    }

    pub(super) fn source_text(&self, _span: Span) -> String {
        "expression is false".to_string()
    }

    pub(super) fn exec_for(
        &mut self,
        init: &[Stmt],
        cond: Option<&Expr>,
        update: &[Expr],
        body: &Stmt,
        span: Span,
    ) -> R<()> {
        for s in init {
            self.exec(s)?;
        }
        loop {
            if let Some(c) = cond
                && !self.eval(c)?.truthy()
            {
                break;
            }
            self.step(span)?;
            match self.exec_scoped(body) {
                Ok(_) | Err(Flow::Continue) => {}
                Err(Flow::Break) => break,
                Err(e) => return Err(e),
            }
            for u in update {
                self.eval(u)?;
            }
        }
        Ok(())
    }

    pub(crate) fn eval_switch(&mut self, sw: &SwitchDef) -> R<Value> {
        let subject = self.eval(&sw.subject)?;
        let mut matched = None;
        'outer: for (i, case) in sw.cases.iter().enumerate() {
            for v in &case.values {
                let cv = self.eval(v)?;
                if self.is_case(&cv, &subject, v.span)? {
                    matched = Some(i);
                    break 'outer;
                }
            }
        }
        let start = match matched.or_else(|| sw.cases.iter().position(|c| c.values.is_empty())) {
            Some(i) => i,
            None => return Ok(Value::Null),
        };
        if sw.arrow {
            let case = &sw.cases[start];
            return match case.body.first() {
                Some(Stmt {
                    kind: StmtKind::Expr(e),
                    ..
                }) => self.eval(e),
                Some(Stmt {
                    kind: StmtKind::Block(b),
                    ..
                }) => self.exec_body_value(b),
                Some(s) => self.exec(s),
                None => Ok(Value::Null),
            };
        }
        let mark = self.env.len();
        let mut r = Ok(Value::Null);
        for case in &sw.cases[start..] {
            r = self.exec_seq(&case.body);
            if r.is_err() {
                break;
            }
        }
        self.env.truncate(mark);
        r
    }

    pub(super) fn exec_try(
        &mut self,
        body: &[Stmt],
        catches: &[Catch],
        finally: Option<&[Stmt]>,
    ) -> R<Value> {
        let depth = self.stack.len();
        let env_len = self.env.len();
        let base = self.base;
        let mut r = self.exec_body_value(body);
        if let Err(Flow::Err(t)) = &r
            && let ErrorKind::Exception(class) = &t.error.kind
        {
            // unwind what the failed calls left behind
            self.stack.truncate(depth);
            self.env.truncate(env_len);
            self.base = base;
            let class = class.clone();
            if let Some(c) = catches.iter().find(|c| {
                c.types.is_empty() || c.types.iter().any(|t| ops::exception_matches(&class, t))
            }) {
                let Err(Flow::Err(t)) = std::mem::replace(&mut r, Ok(Value::Null)) else {
                    unreachable!("matched above")
                };
                let exc = t.value.unwrap_or_else(|| {
                    ops::exception_object(&class, Value::str(t.error.message.as_str()))
                });
                let mark = self.env.len();
                self.declare(c.name.clone(), exc);
                r = self.exec_body_value(&c.body);
                self.env.truncate(mark);
            }
        }
        if let Some(f) = finally {
            self.exec_body_value(f)?;
        }
        r
    }

    pub(super) fn throw_value(&self, v: Value, span: Span) -> Flow {
        match &v {
            Value::Object(o) if o.def.is_none() || ops::is_exception_name(&o.class) => {
                let message = o
                    .fields
                    .borrow()
                    .get("message")
                    .cloned()
                    .unwrap_or(Value::Null);
                let message = if let Value::Null = message {
                    o.class.to_string()
                } else {
                    message.to_string()
                };
                let mut f = self.throw(&o.class, message, span);
                if let Flow::Err(t) = &mut f {
                    t.value = Some(v.clone());
                }
                f
            }
            other => self.throw(
                "GroovyCastException",
                format!(
                    "only exceptions can be thrown, not {}: use throw new Exception(\"…\")",
                    other.describe()
                ),
                span,
            ),
        }
    }
}
