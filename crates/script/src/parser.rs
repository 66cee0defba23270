//! The parser: recursive descent for statements, a Pratt loop for expressions (in
//! `parser/expr.rs`). Statements end at newlines or `;`; a line ending in an operator continues.

mod expr;
mod postfix;
mod primary;
mod stmt;

use std::collections::HashMap;
use std::rc::Rc;

use crate::ast::*;
use crate::diagnostic::{ScriptError, Span};
use crate::lexer::{Tok, Token, lex};

/// Deepest nesting of blocks and expressions the parser accepts (keeps the Rust stack safe).
pub const MAX_NESTING: usize = 96;

/// Highest chain of operators, calls, properties and indexes one expression may grow to
/// (`1 + 1 + …`, `a.b().c()…`). The parser builds a chain in a loop, but the walks over the
/// tree (scope checks, evaluation, drop) recurse once per level: with nesting bounded by
/// [`MAX_NESTING`] and chains by this, no tree is higher than a few hundred levels, which
/// those walks handle on a 2 MiB stack even in a debug build. Real rules stay far below.
pub const MAX_EXPR_DEPTH: usize = 256;

pub struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    depth: usize,
    names: HashMap<String, Name>,
    /// Inside a `case` label, `x -> …` is the arm, not a lambda.
    no_lambda: bool,
    /// Where the parse started on the native stack (see [`MAX_PARSER_STACK`]).
    stack_base: usize,
}

/// Native stack the parser may use; deeper nesting is a syntax error, never an overflow.
pub const MAX_PARSER_STACK: usize = 512 << 10;

type PResult<T> = Result<T, ScriptError>;

const MODIFIERS: &[&str] = &[
    "public",
    "private",
    "protected",
    "static",
    "final",
    "synchronized",
    "abstract",
    "transient",
    "volatile",
];
const PRIMITIVES: &[&str] = &[
    "int", "long", "short", "byte", "char", "boolean", "double", "float", "void",
];
const RESERVED: &[&str] = &[
    "if",
    "else",
    "while",
    "for",
    "do",
    "switch",
    "case",
    "default",
    "return",
    "break",
    "continue",
    "throw",
    "try",
    "catch",
    "finally",
    "class",
    "def",
    "var",
    "new",
    "in",
    "instanceof",
    "as",
    "import",
    "package",
    "true",
    "false",
    "null",
    "this",
    "assert",
    "interface",
    "enum",
    "trait",
    "super",
];

/// Parses a whole script.
pub fn parse(src: &str) -> PResult<Program> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        depth: 0,
        names: HashMap::new(),
        no_lambda: false,
        stack_base: crate::limits::stack_position(),
    };
    p.program()
}

impl<'a> Parser<'a> {
    fn tok(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].tok
    }
    fn tok_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }
    fn span(&self) -> Span {
        self.toks[self.pos.min(self.toks.len() - 1)].span
    }
    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1).min(self.toks.len() - 1)].span
    }
    fn bump(&mut self) {
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
    }
    fn is_op(&self, op: &str) -> bool {
        matches!(self.tok(), Tok::Op(o) if *o == op)
    }
    fn is_op_at(&self, n: usize, op: &str) -> bool {
        matches!(self.tok_at(n), Tok::Op(o) if *o == op)
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if self.is_op(op) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.tok(), Tok::Ident(s) if s == w)
    }
    fn is_word_at(&self, n: usize, w: &str) -> bool {
        matches!(self.tok_at(n), Tok::Ident(s) if s == w)
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.bump();
            true
        } else {
            false
        }
    }
    fn describe(&self) -> String {
        match self.tok() {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Op(o) => format!("'{o}'"),
            Tok::Newline => "the end of the line".into(),
            Tok::Eof => "the end of the script".into(),
            Tok::Str(_) | Tok::GString(_) => "a string".into(),
            _ => "a number".into(),
        }
    }
    fn error<T>(&self, msg: impl Into<String>) -> PResult<T> {
        Err(ScriptError::parse(msg, self.span()))
    }
    fn expect_op(&mut self, op: &str) -> PResult<()> {
        if self.eat_op(op) {
            Ok(())
        } else {
            self.error(format!("expected '{op}' but found {}", self.describe()))
        }
    }
    fn skip_nl(&mut self) {
        while matches!(self.tok(), Tok::Newline) {
            self.bump();
        }
    }
    fn skip_seps(&mut self) {
        while matches!(self.tok(), Tok::Newline) || self.is_op(";") {
            self.bump();
        }
    }
    fn name(&mut self, s: &str) -> Name {
        if let Some(n) = self.names.get(s) {
            return n.clone();
        }
        let n: Name = Rc::from(s);
        self.names.insert(s.to_string(), n.clone());
        n
    }
    fn ident(&mut self) -> PResult<Name> {
        match self.tok().clone() {
            Tok::Ident(s) => {
                self.bump();
                Ok(self.name(&s))
            }
            _ => self.error(format!("expected a name but found {}", self.describe())),
        }
    }
    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING
            || self.stack_base.abs_diff(crate::limits::stack_position()) > MAX_PARSER_STACK
        {
            return self.error(format!(
                "the script is nested too deeply (more than {MAX_NESTING} levels)"
            ));
        }
        Ok(())
    }

    /// `e`, an operand grown by one more operator of a chain; `height` carries the chain's
    /// height from one call to the next (`None` before the first). Refused, at the operator,
    /// when the chain would be higher than [`MAX_EXPR_DEPTH`]. Only the new operands are
    /// measured, so a chain costs time in proportion to its size.
    fn grown(&self, e: Expr, height: &mut Option<usize>) -> PResult<Expr> {
        let operand = e.chained_operand().map(|o| o as *const Expr);
        let mut children = Vec::new();
        Node::Expr(&e).children(&mut children);
        let mut grown = 1;
        for child in children {
            let below = match (child, *height) {
                (Node::Expr(c), Some(h)) if Some(c as *const Expr) == operand => h,
                _ => crate::ast::height(child),
            };
            grown = grown.max(below + 1);
        }
        if grown > MAX_EXPR_DEPTH {
            return self.error(format!(
                "this expression is nested too deeply (more than {MAX_EXPR_DEPTH} levels of operators, calls and properties): split it with variables"
            ));
        }
        *height = Some(grown);
        Ok(e)
    }

    fn program(&mut self) -> PResult<Program> {
        let mut prog = Program::default();
        loop {
            self.skip_seps();
            if matches!(self.tok(), Tok::Eof) {
                return Ok(prog);
            }
            if self.is_word("import") || self.is_word("package") {
                while !matches!(self.tok(), Tok::Newline | Tok::Eof) && !self.is_op(";") {
                    self.bump();
                }
                continue;
            }
            if let Some(c) = self.try_class()? {
                prog.classes.push(Rc::new(c));
                continue;
            }
            if let Some(m) = self.try_method()? {
                prog.methods.push(Rc::new(m));
                continue;
            }
            let s = self.stmt()?;
            prog.body.push(s);
            self.end_of_stmt()?;
        }
    }

    fn end_of_stmt(&mut self) -> PResult<()> {
        match self.tok() {
            Tok::Newline | Tok::Eof => Ok(()),
            Tok::Op(";") | Tok::Op("}") => Ok(()),
            _ => self.error(format!(
                "unexpected {} here: expected the end of the statement",
                self.describe()
            )),
        }
    }

    fn skip_modifiers(&mut self) -> bool {
        let mut is_static = false;
        while let Tok::Ident(s) = self.tok() {
            if !MODIFIERS.contains(&s.as_str()) {
                break;
            }
            is_static |= s == "static";
            self.bump();
            self.skip_nl();
        }
        while self.is_op("@") {
            self.bump();
            let _ = self.qualified_name();
            if self.is_op("(") {
                self.skip_balanced("(", ")");
            }
            self.skip_nl();
        }
        is_static
    }

    fn skip_balanced(&mut self, open: &str, close: &str) {
        let mut depth = 0;
        loop {
            if matches!(self.tok(), Tok::Eof) {
                return;
            }
            if self.is_op(open) {
                depth += 1;
            } else if self.is_op(close) {
                depth -= 1;
                if depth == 0 {
                    self.bump();
                    return;
                }
            }
            self.bump();
        }
    }

    fn qualified_name(&mut self) -> PResult<Name> {
        let mut last = self.ident()?;
        while self.is_op(".") && matches!(self.tok_at(1), Tok::Ident(_)) {
            self.bump();
            last = self.ident()?;
        }
        Ok(last)
    }

    /// A type: `String`, `java.util.List`, `Map<String, Object>`, `int[]`.
    fn parse_type(&mut self) -> PResult<TypeName> {
        let name = self.qualified_name()?;
        if self.is_op("<") {
            let mut depth = 0i32;
            loop {
                match self.tok() {
                    Tok::Op("<") => depth += 1,
                    Tok::Op(">") => depth -= 1,
                    Tok::Op(">>") => depth -= 2,
                    Tok::Op("?")
                    | Tok::Op(",")
                    | Tok::Op(".")
                    | Tok::Ident(_)
                    | Tok::Op("[")
                    | Tok::Op("]") => {}
                    _ => return self.error("this type's <…> is not closed"),
                }
                self.bump();
                if depth <= 0 {
                    break;
                }
            }
        }
        let mut array = false;
        while self.is_op("[") && self.is_op_at(1, "]") {
            self.bump();
            self.bump();
            array = true;
        }
        if self.is_op("...") {
            self.bump();
            array = true;
        }
        Ok(TypeName { name, array })
    }

    /// At `Type name` (a declaration) rather than an expression? Types are primitives,
    /// capitalised or qualified names; a lowercase `a b` is a command call.
    fn at_typed_decl(&mut self) -> bool {
        let Tok::Ident(first) = self.tok() else {
            return false;
        };
        if RESERVED.contains(&first.as_str()) {
            return false;
        }
        let typeish = PRIMITIVES.contains(&first.as_str())
            || first.starts_with(|c: char| c.is_ascii_uppercase());
        let qualified = self.is_op_at(1, ".");
        if !typeish && !qualified {
            return false;
        }
        let save = self.pos;
        let ok = self.parse_type().is_ok();
        let result = ok && (typeish || self.pos > save + 2) && self.decl_follows();
        self.pos = save;
        result
    }

    /// After a type: `name` then `=`, the end of the statement, `,`, `:` or `in`.
    fn decl_follows(&self) -> bool {
        if !matches!(self.tok(), Tok::Ident(s) if !RESERVED.contains(&s.as_str()) || s == "in") {
            return false;
        }
        matches!(self.tok_at(1), Tok::Newline | Tok::Eof)
            || self.is_op_at(1, "=")
            || self.is_op_at(1, ";")
            || self.is_op_at(1, ",")
            || self.is_op_at(1, ":")
            || self.is_op_at(1, "}")
            || self.is_op_at(1, ")")
            || self.is_word_at(1, "in")
    }

    fn try_class(&mut self) -> PResult<Option<ClassDef>> {
        let save = self.pos;
        self.skip_modifiers();
        if !self.eat_word("class") {
            if self.is_word("interface") || self.is_word("enum") || self.is_word("trait") {
                return self.error(
                    "interfaces, enums and traits are not supported in sync scripts; use a class",
                );
            }
            self.pos = save;
            return Ok(None);
        }
        let start = self.prev_span();
        let name = self.ident()?;
        while !self.is_op("{") && !matches!(self.tok(), Tok::Eof) {
            self.bump();
        }
        self.expect_op("{")?;
        let mut class = ClassDef {
            name: name.clone(),
            fields: Vec::new(),
            methods: Vec::new(),
            ctors: Vec::new(),
            span: start,
        };
        loop {
            self.skip_seps();
            if self.eat_op("}") {
                break;
            }
            if matches!(self.tok(), Tok::Eof) {
                return self.error(format!("class {name} is never closed: add }}"));
            }
            let member_start = self.pos;
            let is_static = self.skip_modifiers();
            // constructor
            if matches!(self.tok(), Tok::Ident(s) if **s == *name) && self.is_op_at(1, "(") {
                let span = self.span();
                self.bump();
                self.bump();
                let params = self.params(")")?;
                self.skip_nl();
                let body = self.block()?;
                class.ctors.push(Rc::new(MethodDef {
                    name: name.clone(),
                    params,
                    body,
                    is_static: false,
                    ret: None,
                    span,
                }));
                continue;
            }
            self.pos = member_start;
            if let Some(mut m) = self.try_method()? {
                m.is_static |= is_static;
                class.methods.push(Rc::new(m));
                continue;
            }
            self.pos = member_start;
            let is_static = self.skip_modifiers();
            let ty = if self.eat_word("def") || self.eat_word("var") {
                None
            } else {
                Some(self.parse_type()?)
            };
            loop {
                let fname = self.ident()?;
                let init = if self.eat_op("=") {
                    self.skip_nl();
                    Some(self.expr()?)
                } else {
                    None
                };
                class.fields.push(FieldDef {
                    name: fname,
                    ty: ty.clone(),
                    init,
                    is_static,
                });
                if !self.eat_op(",") {
                    break;
                }
                self.skip_nl();
            }
            self.end_of_stmt()?;
        }
        Ok(Some(class))
    }

    /// `def name(params) { … }` or `Type name(params) { … }`; rewinds and returns `None` if the
    /// tokens are not a method definition.
    fn try_method(&mut self) -> PResult<Option<MethodDef>> {
        let save = self.pos;
        let is_static = self.skip_modifiers();
        let had_mods = self.pos != save;
        let ret = if self.eat_word("def")
            && !(matches!(self.tok(), Tok::Ident(s) if s.starts_with(|c: char| c.is_ascii_uppercase()))
                && matches!(self.tok_at(1), Tok::Ident(_)))
        {
            None
        } else if matches!(self.tok(), Tok::Ident(s) if !RESERVED.contains(&s.as_str()))
            && matches!(
                self.tok_at(1),
                Tok::Ident(_) | Tok::Op("<") | Tok::Op("[") | Tok::Op(".")
            )
        {
            match self.parse_type() {
                Ok(t) => Some(t),
                Err(_) => {
                    self.pos = save;
                    return Ok(None);
                }
            }
        } else if had_mods && matches!(self.tok(), Tok::Ident(_)) && self.is_op_at(1, "(") {
            None
        } else {
            self.pos = save;
            return Ok(None);
        };
        let span = self.span();
        let (Tok::Ident(_), true) = (self.tok(), self.is_op_at(1, "(")) else {
            self.pos = save;
            return Ok(None);
        };
        let name = self.ident()?;
        self.bump();
        let Ok(params) = self.params(")") else {
            self.pos = save;
            return Ok(None);
        };
        if self.is_word("throws") {
            while !self.is_op("{") && !matches!(self.tok(), Tok::Eof) {
                self.bump();
            }
        }
        self.skip_nl();
        if !self.is_op("{") {
            self.pos = save;
            return Ok(None);
        }
        let body = self.block()?;
        Ok(Some(MethodDef {
            name,
            params,
            body,
            is_static,
            ret,
            span,
        }))
    }

    /// Parameters up to `close` (already past the opening token): `a`, `String b = "x"`, `def c`.
    fn params(&mut self, close: &str) -> PResult<Vec<Param>> {
        let mut params = Vec::new();
        self.skip_nl();
        if self.eat_op(close) {
            return Ok(params);
        }
        loop {
            self.skip_nl();
            self.skip_modifiers();
            let ty = if self.eat_word("def") || self.eat_word("var") {
                None
            } else if matches!(
                self.tok_at(1),
                Tok::Ident(_) | Tok::Op("<") | Tok::Op("[") | Tok::Op(".")
            ) && !self.is_op_at(1, "[")
                || (self.is_op_at(1, "[") && self.is_op_at(2, "]"))
            {
                Some(self.parse_type()?)
            } else {
                None
            };
            let name = self.ident()?;
            let default = if self.eat_op("=") {
                self.skip_nl();
                Some(self.expr()?)
            } else {
                None
            };
            params.push(Param { name, ty, default });
            self.skip_nl();
            if self.eat_op(",") {
                continue;
            }
            if self.eat_op(close) {
                return Ok(params);
            }
            return self.error(format!(
                "expected ',' or '{close}' in the parameter list but found {}",
                self.describe()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_methods_classes_and_statements() {
        let p = parse(
            "class A { int x = 1\n def get() { x } }\ndef f(a, b = 2) { a + b }\nprintln f(1)\n",
        );
        let p = p.map_err(|e| e.message).unwrap_or_default();
        assert_eq!((p.classes.len(), p.methods.len(), p.body.len()), (1, 1, 1));
    }

    #[test]
    fn reports_unclosed_blocks_with_a_location() {
        let e = parse("if (x) {\n  y = 1\n").err().map(|e| e.message);
        assert_eq!(e.as_deref(), Some("this block is never closed: add }"));
    }
}

#[cfg(test)]
mod depth_tests {
    use super::*;

    /// Compiles on a thread with the 2 MiB stack of a tokio worker.
    fn compile_on_small_stack(src: String) -> Result<(), String> {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                crate::Script::compile(&src)
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
            .expect("thread")
            .join()
            .expect("no panic")
    }

    #[test]
    fn a_chain_of_eight_thousand_additions_is_refused_naming_the_limit() {
        let err = compile_on_small_stack(format!("x = {}", vec!["1"; 8000].join(" + ")))
            .expect_err("refused");
        assert!(err.contains("nested too deeply"), "{err}");
        assert!(err.contains(&MAX_EXPR_DEPTH.to_string()), "{err}");
    }

    #[test]
    fn deep_parentheses_method_chains_and_negations_are_refused() {
        for src in [
            format!("x = {}1{}", "(".repeat(3000), ")".repeat(3000)),
            format!("x = \"x\"{}", ".trim()".repeat(8000)),
            format!("x = {}true", "!".repeat(8000)),
            format!("x = \"$a{}\"", ".b".repeat(8000)),
            format!("x = a{}", "[0]".repeat(8000)),
            format!("x = {}1", "a = ".repeat(8000)),
            format!("x = {}1{}", "[".repeat(3000), "]".repeat(3000)),
            format!("x = {}1{}", "f(".repeat(3000), ")".repeat(3000)),
            format!("x = {}1{}", "c { ".repeat(3000), " }".repeat(3000)),
        ] {
            let err = compile_on_small_stack(src.clone()).expect_err(&src[..20]);
            assert!(err.contains("nested too deeply"), "{err}");
        }
    }

    /// Compiles and runs on a 2 MiB thread: the answer, or the error's text.
    fn run_on_small_stack(src: String) -> Result<String, String> {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let script = crate::Script::compile(&src).map_err(|e| e.to_string())?;
                let outcome = script.run(crate::binding::<_, &str>([]), &crate::Limits::default());
                outcome
                    .result
                    .map(|v| v.to_string())
                    .map_err(|e| e.to_string())
            })
            .expect("thread")
            .join()
            .expect("no panic")
    }

    /// The evaluator stops deep recursion with its stack budget (`Limits::max_stack_bytes`);
    /// a debug build's frames are large, so there it may stop before the chain's end.
    fn ran_or_stopped_cleanly(result: Result<String, String>) {
        if let Err(e) = result {
            assert!(e.contains("nested too deeply"), "{e}");
        }
    }

    #[test]
    fn the_highest_trees_the_parser_accepts_compile_run_and_drop_on_a_small_stack() {
        let chain = vec!["1"; MAX_EXPR_DEPTH - 2].join(" + ");
        ran_or_stopped_cleanly(run_on_small_stack(format!("x = {chain}")));
        assert_eq!(run_on_small_stack("x = 1 + 1 + 1".into()), Ok("3".into()));
        // Chains inside nesting: the tree is as high as the parser allows anywhere.
        let nested = format!(
            "x = {}{chain}{}",
            "-(".repeat(MAX_NESTING / 2 - 2),
            ")".repeat(MAX_NESTING / 2 - 2)
        );
        ran_or_stopped_cleanly(run_on_small_stack(nested));
        let closures = format!(
            "x = {}{chain}{}",
            "[1].collect { ".repeat(20),
            " }".repeat(20)
        );
        ran_or_stopped_cleanly(run_on_small_stack(closures));
    }

    mod random {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};

        use super::compile_on_small_stack;

        fn config() -> Config {
            Config {
                cases: 256,
                failure_persistence: None,
                rng_seed: RngSeed::Fixed(13),
                ..Config::default()
            }
        }

        /// Bits of Groovy, so that random scripts are near-valid, not only noise.
        fn piece() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("(".to_owned()),
                Just(")".to_owned()),
                Just("{".to_owned()),
                Just("}".to_owned()),
                Just("[".to_owned()),
                Just("]".to_owned()),
                Just("\n".to_owned()),
                Just(" + ".to_owned()),
                Just(" ? ".to_owned()),
                Just(" : ".to_owned()),
                Just(" = ".to_owned()),
                Just(" -> ".to_owned()),
                Just("!".to_owned()),
                Just(".trim()".to_owned()),
                Just("?.size()".to_owned()),
                Just("def x".to_owned()),
                Just("if (a) ".to_owned()),
                Just(" else ".to_owned()),
                Just("for (i in 0..3) ".to_owned()),
                Just("switch (a) { case 1 -> ".to_owned()),
                Just("class A { ".to_owned()),
                Just("def f(a, b = 2) ".to_owned()),
                Just("\"${".to_owned()),
                Just("\"$a.b\"".to_owned()),
                Just("'s'".to_owned()),
                Just("/re/".to_owned()),
                Just("1.5G".to_owned()),
                Just("0x1F".to_owned()),
                Just("(int) ".to_owned()),
                Just(" as String".to_owned()),
                Just("try { ".to_owned()),
                Just(" catch (Exception e) ".to_owned()),
                "[a-z]{1,3}",
                "[ -~]{1,4}",
            ]
        }

        /// One construct nested or chained thousands deep.
        fn deep() -> impl Strategy<Value = String> {
            let opener = prop_oneof![
                Just(("(", ")")),
                Just(("[", "]")),
                Just(("{ ", " }")),
                Just(("f(", ")")),
                Just(("-", "")),
                Just(("!", "")),
                Just(("++", "")),
                Just(("(int) ", "")),
                Just(("c { ", " }")),
                Just(("if (a) { ", " }")),
                Just(("a = ", "")),
                Just(("a ? b : ", "")),
                Just(("\"${", "}\"")),
                Just(("[a: ", "]")),
            ];
            let chain = prop_oneof![
                Just(" + 1"),
                Just(" && a"),
                Just(" ?: b"),
                Just(".b"),
                Just(".c()"),
                Just("[0]"),
                Just("?.d"),
                Just("++"),
                Just(" as int"),
                Just(" instanceof String"),
                Just(" == 1"),
                Just("..2"),
            ];
            (opener, 0usize..3000, chain, 0usize..3000, any::<bool>()).prop_map(
                |((open, close), depth, link, length, closed)| {
                    format!(
                        "x = {}a{}{}",
                        open.repeat(depth),
                        link.repeat(length),
                        if closed {
                            close.repeat(depth)
                        } else {
                            String::new()
                        }
                    )
                },
            )
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn any_text_compiles_or_is_refused_without_panicking(src in "\\PC{0,200}") {
                let _ = crate::Script::compile(&src);
            }

            #[test]
            fn near_valid_scripts_never_panic(pieces in proptest::collection::vec(piece(), 0..60)) {
                let _ = crate::Script::compile(&pieces.concat());
            }

            #[test]
            fn deep_scripts_compile_or_are_refused_on_a_small_stack(src in deep()) {
                // `compile_on_small_stack` fails the test on a panic; an overflow aborts it.
                let _ = compile_on_small_stack(src);
            }
        }
    }
}
