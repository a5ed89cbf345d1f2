//! Cranelift against Winch on one component: compile time, code size, and a call under
//! fuel and an epoch deadline with each (each strategy twice, alternating, so that load
//! on a shared machine hits both alike). The component's imports are defined as traps:
//! `describe` of the skill templates calls none.
use std::time::Instant;
use wasmtime::component::{Component, Linker, Val};
use wasmtime::{Config, Engine, Store, Strategy};

fn engine(strategy: Strategy) -> Engine {
    let mut c = Config::new();
    c.strategy(strategy)
        .consume_fuel(true)
        .epoch_interruption(true);
    Engine::new(&c).unwrap()
}

fn main() {
    let path = std::env::args().nth(1).unwrap();
    let wasm = std::fs::read(&path).unwrap();
    println!("{path}: {} KB", wasm.len() / 1024);
    for (name, strategy) in [
        ("cranelift", Strategy::Cranelift),
        ("winch", Strategy::Winch),
        ("cranelift", Strategy::Cranelift),
        ("winch", Strategy::Winch),
    ] {
        let engine = engine(strategy);
        let t = Instant::now();
        let code = match engine.precompile_component(&wasm) {
            Ok(code) => code,
            Err(e) => {
                println!("{name:9} does not compile it: {:#}", e);
                continue;
            }
        };
        let compile = t.elapsed();
        let t = Instant::now();
        #[expect(
            unsafe_code,
            reason = "the bytes were compiled by this engine just above"
        )]
        // SAFETY: `code` comes from `engine.precompile_component` of this same engine.
        let component = unsafe { Component::deserialize(&engine, &code) }.unwrap();
        let load = t.elapsed();
        let mut linker: Linker<()> = Linker::new(&engine);
        linker.define_unknown_imports_as_traps(&component).unwrap();
        let mut store = Store::new(&engine, ());
        store.set_fuel(10_000_000_000).unwrap();
        store.set_epoch_deadline(1_000_000);
        let t = Instant::now();
        let instance = linker.instantiate(&mut store, &component).unwrap();
        let inst = t.elapsed();
        let describe = instance.get_func(&mut store, "describe").expect("describe");
        let mut out = [Val::Bool(false)];
        let t = Instant::now();
        describe.call(&mut store, &[], &mut out).unwrap();
        let call = t.elapsed();
        let fuel = 10_000_000_000 - store.get_fuel().unwrap();
        // An epoch deadline already passed: the next call must trap.
        let mut store2 = Store::new(&engine, ());
        store2.set_fuel(10_000_000_000).unwrap();
        store2.set_epoch_deadline(1);
        let instance2 = linker.instantiate(&mut store2, &component);
        engine.increment_epoch();
        engine.increment_epoch();
        let trapped = match instance2 {
            Err(e) => format!("instantiate trapped: {e}"),
            Ok(i) => {
                let f = i.get_func(&mut store2, "describe").unwrap();
                match f.call(&mut store2, &[], &mut out) {
                    Err(e) => format!("call trapped: {:?}", e.downcast_ref::<wasmtime::Trap>()),
                    Ok(()) => "NOT interrupted".into(),
                }
            }
        };
        // Fuel too small: must trap.
        let mut store3 = Store::new(&engine, ());
        store3.set_fuel(1000).unwrap();
        store3.set_epoch_deadline(1_000_000);
        let out_of_fuel = match linker.instantiate(&mut store3, &component) {
            Err(e) => format!("instantiate: {e}"),
            Ok(i) => {
                let f = i.get_func(&mut store3, "describe").unwrap();
                match f.call(&mut store3, &[], &mut out) {
                    Err(e) => format!("call: {:?}", e.downcast_ref::<wasmtime::Trap>()),
                    Ok(()) => "NOT out of fuel".into(),
                }
            }
        };
        println!(
            "{name:9} compile {:>8.2?}  code {:>6} KB  deserialize {:>7.2?}  instantiate {:>7.2?}  describe {:>7.2?} ({fuel} fuel)  epoch: {trapped}  fuel 1000: {out_of_fuel}",
            compile,
            code.len() / 1024,
            load,
            inst,
            call
        );
    }
}
