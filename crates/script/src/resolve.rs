//! Scope checks Groovy makes at compile time: a local variable or closure parameter may not
//! redeclare or shadow a local variable that is already visible in the same method (closures
//! see their enclosing method's locals). Groovy rejects such scripts before running them, so
//! the engine does too.

use crate::ast::*;
use crate::diagnostic::{ScriptError, Span};

struct Scopes {
    stack: Vec<Vec<Name>>,
}

impl Scopes {
    fn declare(&mut self, name: &Name, span: Span) -> Result<(), ScriptError> {
        if self.stack.iter().any(|s| s.iter().any(|n| n == name)) {
            return Err(ScriptError::parse(
                format!(
                    "the variable '{name}' is already defined here: Groovy does not allow declaring it again or shadowing it in a closure; use another name"
                ),
                span,
            ));
        }
        if let Some(top) = self.stack.last_mut() {
            top.push(name.clone());
        }
        Ok(())
    }
    fn push(&mut self) {
        self.stack.push(Vec::new());
    }
    fn pop(&mut self) {
        self.stack.pop();
    }
}

/// Checks the whole program.
pub fn check(p: &Program) -> Result<(), ScriptError> {
    let mut s = Scopes {
        stack: vec![Vec::new()],
    };
    block(&mut s, &p.body)?;
    for m in p.methods.iter().chain(
        p.classes
            .iter()
            .flat_map(|c| c.methods.iter().chain(c.ctors.iter())),
    ) {
        let mut s = Scopes {
            stack: vec![Vec::new()],
        };
        for prm in &m.params {
            s.declare(&prm.name, m.span)?;
            if let Some(d) = &prm.default {
                expr(&mut s, d)?;
            }
        }
        block(&mut s, &m.body)?;
    }
    Ok(())
}

fn block(s: &mut Scopes, body: &[Stmt]) -> Result<(), ScriptError> {
    for st in body {
        stmt(s, st)?;
    }
    Ok(())
}

fn scoped(s: &mut Scopes, st: &Stmt) -> Result<(), ScriptError> {
    s.push();
    let r = stmt(s, st);
    s.pop();
    r
}

fn scoped_block(s: &mut Scopes, body: &[Stmt]) -> Result<(), ScriptError> {
    s.push();
    let r = block(s, body);
    s.pop();
    r
}

fn stmt(s: &mut Scopes, st: &Stmt) -> Result<(), ScriptError> {
    match &st.kind {
        StmtKind::Expr(e) => expr(s, e),
        StmtKind::Decl { name, init, .. } => {
            if let Some(e) = init {
                expr(s, e)?;
            }
            s.declare(name, st.span)
        }
        StmtKind::MultiDecl { names, init } => {
            expr(s, init)?;
            names.iter().try_for_each(|n| s.declare(n, st.span))
        }
        StmtKind::Seq(list) => block(s, list),
        StmtKind::Block(b) => scoped_block(s, b),
        StmtKind::If { cond, then, els } => {
            expr(s, cond)?;
            scoped(s, then)?;
            els.as_ref().map_or(Ok(()), |e| scoped(s, e))
        }
        StmtKind::While { cond, body } | StmtKind::DoWhile { body, cond } => {
            expr(s, cond)?;
            scoped(s, body)
        }
        StmtKind::For {
            init,
            cond,
            update,
            body,
        } => {
            s.push();
            let r = (|| {
                block(s, init)?;
                if let Some(c) = cond {
                    expr(s, c)?;
                }
                update.iter().try_for_each(|u| expr(s, u))?;
                scoped(s, body)
            })();
            s.pop();
            r
        }
        StmtKind::ForIn { name, iter, body } => {
            s.push();
            let r = (|| {
                s.declare(name, st.span)?;
                expr(s, iter)?;
                scoped(s, body)
            })();
            s.pop();
            r
        }
        StmtKind::Switch(sw) => switch(s, sw),
        StmtKind::Return(e) => e.as_ref().map_or(Ok(()), |e| expr(s, e)),
        StmtKind::Throw(e) => expr(s, e),
        StmtKind::Assert(a, b) => {
            expr(s, a)?;
            b.as_ref().map_or(Ok(()), |e| expr(s, e))
        }
        StmtKind::Try {
            body,
            catches,
            finally,
        } => {
            scoped_block(s, body)?;
            for c in catches {
                s.push();
                let r = s.declare(&c.name, st.span).and_then(|_| block(s, &c.body));
                s.pop();
                r?;
            }
            finally.as_ref().map_or(Ok(()), |f| scoped_block(s, f))
        }
        StmtKind::Break | StmtKind::Continue | StmtKind::Empty => Ok(()),
    }
}

fn switch(s: &mut Scopes, sw: &SwitchDef) -> Result<(), ScriptError> {
    expr(s, &sw.subject)?;
    s.push();
    let r = sw.cases.iter().try_for_each(|c| {
        c.values.iter().try_for_each(|v| expr(s, v))?;
        if sw.arrow {
            scoped_block(s, &c.body)
        } else {
            block(s, &c.body)
        }
    });
    s.pop();
    r
}

fn expr(s: &mut Scopes, e: &Expr) -> Result<(), ScriptError> {
    match &e.kind {
        ExprKind::Closure(def) => {
            s.push();
            let r = (|| {
                for p in &def.params {
                    s.declare(&p.name, def.span)?;
                    if let Some(d) = &p.default {
                        expr(s, d)?;
                    }
                }
                block(s, &def.body)
            })();
            s.pop();
            r
        }
        ExprKind::GString(parts) => parts.iter().try_for_each(|p| match p {
            GPart::Expr(e) => expr(s, e),
            GPart::Lit(_) => Ok(()),
        }),
        ExprKind::List(items) | ExprKind::NewArray { elems: items } => {
            items.iter().try_for_each(|x| expr(s, x))
        }
        ExprKind::Map(entries) => entries
            .iter()
            .try_for_each(|(k, v)| expr(s, k).and_then(|_| expr(s, v))),
        ExprKind::Range { from, to, .. } => expr(s, from).and_then(|_| expr(s, to)),
        ExprKind::Unary(_, x) | ExprKind::IncDec { target: x, .. } => expr(s, x),
        ExprKind::Binary(_, a, b)
        | ExprKind::And(a, b)
        | ExprKind::Or(a, b)
        | ExprKind::Elvis(a, b) => expr(s, a).and_then(|_| expr(s, b)),
        ExprKind::Ternary(a, b, c) => expr(s, a).and_then(|_| expr(s, b)).and_then(|_| expr(s, c)),
        ExprKind::Assign { target, value, .. } | ExprKind::ElvisAssign { target, value } => {
            expr(s, target).and_then(|_| expr(s, value))
        }
        ExprKind::MultiAssign { value, .. } => expr(s, value),
        ExprKind::Prop { obj, .. } | ExprKind::Spread { obj, .. } => expr(s, obj),
        ExprKind::DynProp { obj, name, .. } => expr(s, obj).and_then(|_| expr(s, name)),
        ExprKind::Index { obj, index, .. } => expr(s, obj).and_then(|_| expr(s, index)),
        ExprKind::Method { obj, args, .. } => {
            expr(s, obj)?;
            args.iter().try_for_each(|a| expr(s, a))
        }
        ExprKind::Call { args, .. } | ExprKind::New { args, .. } => {
            args.iter().try_for_each(|a| expr(s, a))
        }
        ExprKind::CallValue { callee, args } => {
            expr(s, callee)?;
            args.iter().try_for_each(|a| expr(s, a))
        }
        ExprKind::Cast { expr: x, .. }
        | ExprKind::InstanceOf { expr: x, .. }
        | ExprKind::MethodRef { target: x, .. } => expr(s, x),
        ExprKind::Switch(sw) => switch(s, sw),
        ExprKind::Null
        | ExprKind::Bool(_)
        | ExprKind::Int(_)
        | ExprKind::Long(_)
        | ExprKind::BigInt(_)
        | ExprKind::Dec(_)
        | ExprKind::Double(_)
        | ExprKind::Str(_)
        | ExprKind::Var(_)
        | ExprKind::This
        | ExprKind::Class(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shadowing_a_local_in_a_closure_is_rejected_like_groovy() {
        assert!(crate::Script::compile("def x = 1\n[1].each { x -> x }").is_err());
        assert!(crate::Script::compile("def x = 1\ndef x = 2").is_err());
        assert!(
            crate::Script::compile("[1].each { x -> x }\n[2].each { x -> x }\ndef x = 3").is_ok()
        );
    }
}
