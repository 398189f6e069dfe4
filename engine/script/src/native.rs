//! Native predicates: a `.where` closure made only of field comparisons with constants, joined by
//! `&&`, `||` and `!` (`|c| c.city == "Oslo" && c.revenue > 500.0`), is also compiled into a
//! [`Pred`] that the query runs on the decoded record, with no map built and no interpreter call
//! per record.
//!
//! A predicate answers only what it is sure the closure would answer: it gives `None` for any
//! value it does not handle exactly as Rhai does (a missing field, a date, mixed types), and the
//! query then calls the closure on that record. So the results are the closure's, always.

use std::cmp::Ordering;

use rhai::{Dynamic, Expr, FnCallExpr, FnPtr, NativeCallContext, Stmt};

/// A field of the record being tested; `None` when the record has no such field.
pub(crate) trait FieldSource {
    fn field(&self, name: &str) -> Option<Dynamic>;

    /// Whether `name` is surely a field of the record or surely not one (an entry's custom
    /// values live beside it, so a source of entries knows only the built-in names).
    fn knows(&self, name: &str) -> bool {
        let _ = name;
        true
    }

    /// The order of field `name` and `constant` (as [`order`] gives it for the field's value);
    /// `None` when the record has no such field or the pair is not one `order` decides. A
    /// source may answer without building the value (a contact read in place compares its
    /// text where it lies).
    fn order_with(&self, name: &str, constant: &Dynamic) -> Option<Ordering> {
        order(&self.field(name)?, constant)
    }

    /// [`FieldSource::order_with`] for comparison `question` of a predicate (the same
    /// question always compares the same field with the same constant), which a source may
    /// answer once for many records with the same value (a contact's row of the columns).
    fn order_for(&self, question: usize, name: &str, constant: &Dynamic) -> Option<Ordering> {
        let _ = question;
        self.order_with(name, constant)
    }
}

/// A number for each comparison compiled, unique in the process ([`FieldSource::order_for`]).
static QUESTIONS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// [`order`] of a text field's value and `constant`, without making the text a value.
pub(crate) fn order_text(text: &str, constant: &Dynamic) -> Option<Ordering> {
    constant
        .read_lock::<rhai::ImmutableString>()
        .map(|c| text.cmp(c.as_str()))
}

/// [`order`] of a number field's value and `constant`, without making the number a value: a
/// whole number reads as an integer, as scripts see it.
pub(crate) fn order_number(n: f64, constant: &Dynamic) -> Option<Ordering> {
    if n.fract() == 0.0
        && n.abs() < 9.0e15
        && let Ok(c) = constant.as_int()
    {
        return Some((n as rhai::INT).cmp(&c));
    }
    let c = constant
        .as_float()
        .ok()
        .or_else(|| constant.as_int().ok().map(|i| i as f64))?;
    n.partial_cmp(&c)
}

/// How a field is compared with a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    fn from_name(name: &str) -> Option<Op> {
        Some(match name {
            "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            _ => return None,
        })
    }

    /// The same test with its operands swapped (`500.0 < c.revenue` is `c.revenue > 500.0`).
    fn swapped(self) -> Op {
        match self {
            Op::Lt => Op::Gt,
            Op::Le => Op::Ge,
            Op::Gt => Op::Lt,
            Op::Ge => Op::Le,
            same => same,
        }
    }

    fn holds(self, o: Ordering) -> bool {
        match self {
            Op::Eq => o == Ordering::Equal,
            Op::Ne => o != Ordering::Equal,
            Op::Lt => o == Ordering::Less,
            Op::Le => o != Ordering::Greater,
            Op::Gt => o == Ordering::Greater,
            Op::Ge => o != Ordering::Less,
        }
    }
}

/// A compiled closure body.
#[derive(Debug, Clone)]
pub(crate) enum Pred {
    And(Vec<Pred>),
    Or(Vec<Pred>),
    Not(Box<Pred>),
    /// A field compared with a constant (a string, an integer or a float).
    /// With the comparison's number ([`FieldSource::order_for`]).
    Compare(String, Op, Dynamic, usize),
    /// A bool field on its own (`|c| c.privacy_blocked`).
    Flag(String),
    Const(bool),
}

impl Pred {
    /// The names of the fields it reads.
    pub fn fields<'p>(&'p self, out: &mut Vec<&'p str>) {
        match self {
            Pred::And(ps) | Pred::Or(ps) => ps.iter().for_each(|p| p.fields(out)),
            Pred::Not(p) => p.fields(out),
            Pred::Compare(field, ..) | Pred::Flag(field) => out.push(field),
            Pred::Const(_) => {}
        }
    }

    /// What the closure returns for `record`, when that is certain without running it.
    pub fn eval(&self, record: &dyn FieldSource) -> Option<bool> {
        match self {
            Pred::Const(b) => Some(*b),
            Pred::Flag(field) => record.field(field)?.as_bool().ok(),
            Pred::Not(p) => p.eval(record).map(|b| !b),
            // Rhai's && and || take bools and stop at the first operand that decides; an operand
            // this cannot decide leaves the whole record to the closure.
            Pred::And(ps) => {
                for p in ps {
                    if !p.eval(record)? {
                        return Some(false);
                    }
                }
                Some(true)
            }
            Pred::Or(ps) => {
                for p in ps {
                    if p.eval(record)? {
                        return Some(true);
                    }
                }
                Some(false)
            }
            Pred::Compare(field, op, constant, question) => {
                Some(op.holds(record.order_for(*question, field, constant)?))
            }
        }
    }
}

/// The order of a field value and a constant, for the pairs whose comparison Rhai defines the
/// same way: two strings (byte order) and numbers (integers and
/// floats mixed as Rhai mixes them). Anything else (bools, dates, a string and a number):
/// `None`.
pub(crate) fn order(value: &Dynamic, constant: &Dynamic) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (
        value.read_lock::<rhai::ImmutableString>(),
        constant.read_lock::<rhai::ImmutableString>(),
    ) {
        return Some(a.as_str().cmp(b.as_str()));
    }
    if let (Ok(a), Ok(b)) = (value.as_int(), constant.as_int()) {
        return Some(a.cmp(&b));
    }
    let number = |d: &Dynamic| {
        d.as_float()
            .ok()
            .or_else(|| d.as_int().ok().map(|i| i as f64))
    };
    if let (Some(a), Some(b)) = (number(value), number(constant)) {
        return a.partial_cmp(&b);
    }
    None
}

/// The predicate of `f`, when its body is one expression the compiler knows.
pub(crate) fn compile(ctx: &NativeCallContext, f: &FnPtr) -> Option<Pred> {
    if f.is_curried() {
        return None;
    }
    let def = ctx
        .iter_namespaces()
        .find_map(|m| m.get_script_fn(f.fn_name(), 1))?;
    let param = def.params.first()?.to_string();
    // Rhai does not export the type of a function's body; walking an AST made of the one
    // function reaches its statements (path length 1: the body's top level).
    let mut module = rhai::Module::new();
    module.set_script_fn(def.clone());
    let mut top = Vec::new();
    rhai::AST::new_from_module(module).walk(&mut |path: &[rhai::ASTNode]| {
        if let [rhai::ASTNode::Stmt(stmt)] = path {
            top.push(match stmt {
                Stmt::Expr(e) => expr(e, &param),
                // A body that is one operator call is kept as a call statement.
                Stmt::FnCall(c, _) => call(c, &param),
                _ => None,
            });
        }
        true
    });
    // Scripts cannot define operators, and with Rhai's fast operators (the default) a
    // registered function never replaces a built-in one on strings and numbers: a comparison
    // here means what Rhai's built-in operator means.
    match top.as_slice() {
        [Some(pred)] => Some(pred.clone()),
        _ => None,
    }
}

/// The fields of its parameter that the closure `f` reads by name (`|c| c.city == …` reads
/// `city`), wherever in its body; empty when `f` is not a script closure of one parameter.
pub(crate) fn fields_read(ctx: &NativeCallContext, f: &FnPtr) -> Vec<String> {
    let Some(def) = ctx
        .iter_namespaces()
        .find_map(|m| m.get_script_fn(f.fn_name(), 1 + f.curry().len()))
    else {
        return Vec::new();
    };
    // Curried values come first; the record is the last parameter.
    let Some(param) = def.params.last().map(ToString::to_string) else {
        return Vec::new();
    };
    let mut module = rhai::Module::new();
    module.set_script_fn(def.clone());
    let mut names = Vec::new();
    rhai::AST::new_from_module(module).walk(&mut |path: &[rhai::ASTNode]| {
        if let Some(rhai::ASTNode::Expr(Expr::Dot(x, _, _))) = path.last()
            && let Expr::Variable(v, _, _) = &x.lhs
            && v.1.as_str() == param
            && v.2.is_empty()
        {
            let property = match &x.rhs {
                Expr::Property(p, _) => Some(p.2.to_string()),
                Expr::Dot(y, _, _) | Expr::Index(y, _, _) => match &y.lhs {
                    Expr::Property(p, _) => Some(p.2.to_string()),
                    _ => None,
                },
                _ => None,
            };
            names.extend(property);
        }
        true
    });
    names
}

fn expr(e: &Expr, param: &str) -> Option<Pred> {
    match e {
        Expr::BoolConstant(b, _) => Some(Pred::Const(*b)),
        Expr::And(xs, _) => xs
            .iter()
            .map(|x| expr(x, param))
            .collect::<Option<_>>()
            .map(Pred::And),
        Expr::Or(xs, _) => xs
            .iter()
            .map(|x| expr(x, param))
            .collect::<Option<_>>()
            .map(Pred::Or),
        Expr::Dot(..) => field(e, param).map(Pred::Flag),
        Expr::FnCall(c, _) => call(c, param),
        _ => None,
    }
}

/// An operator: `!x`, or a comparison of a field with a constant (either way round).
fn call(call: &FnCallExpr, param: &str) -> Option<Pred> {
    if !call.namespace.is_empty() {
        return None;
    }
    match (call.name.as_str(), call.args.as_slice()) {
        ("!", [operand]) => expr(operand, param).map(|p| Pred::Not(Box::new(p))),
        (name, [left, right]) => {
            let op = Op::from_name(name)?;
            if let (Some(name), Some(value)) = (field(left, param), constant(right)) {
                Some(Pred::Compare(name, op, value, question()))
            } else {
                let (name, value) = (field(right, param)?, constant(left)?);
                Some(Pred::Compare(name, op.swapped(), value, question()))
            }
        }
        _ => None,
    }
}

/// A new comparison's number.
fn question() -> usize {
    QUESTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// `param.name`: the field's name.
fn field(e: &Expr, param: &str) -> Option<String> {
    let Expr::Dot(x, _, _) = e else { return None };
    let Expr::Variable(v, _, _) = &x.lhs else {
        return None;
    };
    let Expr::Property(p, _) = &x.rhs else {
        return None;
    };
    (v.1.as_str() == param && v.2.is_empty()).then(|| p.2.to_string())
}

fn constant(e: &Expr) -> Option<Dynamic> {
    Some(match e {
        Expr::StringConstant(s, _) => Dynamic::from(s.clone()),
        Expr::IntegerConstant(i, _) => Dynamic::from_int(*i),
        Expr::FloatConstant(f, _) => Dynamic::from_float(**f),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use rhai::{Dynamic, Engine, FnPtr, Map, NativeCallContext};

    use super::{FieldSource, Pred, compile};

    impl FieldSource for Map {
        fn field(&self, name: &str) -> Option<Dynamic> {
            self.get(name).cloned()
        }
    }

    /// What `compile` makes of the closure given to `probe` in `script`.
    fn compiled(script: &str) -> Option<Pred> {
        let out = Rc::new(RefCell::new(None));
        let mut engine = Engine::new();
        let o = out.clone();
        engine.register_fn("probe", move |ctx: NativeCallContext, f: FnPtr| {
            *o.borrow_mut() = compile(&ctx, &f);
        });
        engine.run(script).unwrap();
        out.borrow_mut().take()
    }

    fn record(city: &str, revenue: f64) -> Map {
        let mut m = Map::new();
        m.insert("city".into(), city.into());
        m.insert("revenue".into(), Dynamic::from_float(revenue));
        m.insert("employees".into(), Dynamic::from_int(12));
        m
    }

    #[test]
    fn field_comparisons_joined_by_and_or_not_compile_to_a_native_predicate() {
        let p = compiled(r#"probe(|c| c.city == "Oslo" && c.revenue > 500.0)"#).unwrap();
        assert_eq!(p.eval(&record("Oslo", 600.0)), Some(true));
        assert_eq!(p.eval(&record("Oslo", 400.0)), Some(false));
        assert_eq!(p.eval(&record("Bergen", 600.0)), Some(false));
        let p = compiled(r#"probe(|c| !(c.city == "Oslo") || 10 <= c.employees)"#).unwrap();
        assert_eq!(p.eval(&record("Oslo", 0.0)), Some(true));
        let p = compiled(r#"probe(|c| c.city != "Oslo" || c.employees < 10)"#).unwrap();
        assert_eq!(p.eval(&record("Oslo", 0.0)), Some(false));
    }

    #[test]
    fn closures_that_are_not_field_comparisons_with_constants_stay_interpreted() {
        for script in [
            r#"let x = "Oslo"; probe(|c| c.city == x)"#,
            r#"probe(|c| { let city = c.city; city == "Oslo" })"#,
            r#"probe(|c| c.city.to_upper() == "OSLO")"#,
            r"probe(|c| c.city == c.country)",
        ] {
            assert!(compiled(script).is_none(), "{script} compiled");
        }
    }

    #[test]
    fn a_value_the_predicate_cannot_compare_as_rhai_does_leaves_the_record_to_the_closure() {
        let p = compiled(r"probe(|c| c.revenue > 500.0)").unwrap();
        let mut m = record("Oslo", 0.0);
        m.insert("revenue".into(), "a lot".into());
        assert_eq!(p.eval(&m), None, "a string against a number");
        m.remove("revenue");
        assert_eq!(p.eval(&m), None, "a missing field");
        // An undecided first operand of && leaves the record undecided.
        let p = compiled(r#"probe(|c| c.missing == 1 && c.city == "Oslo")"#).unwrap();
        assert_eq!(p.eval(&record("Oslo", 0.0)), None);
        // A decided false first operand decides, as Rhai's && stops there.
        let p = compiled(r#"probe(|c| c.city == "Bergen" && c.missing == 1)"#).unwrap();
        assert_eq!(p.eval(&record("Oslo", 0.0)), Some(false));
    }
}
