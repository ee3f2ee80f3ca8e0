//! Test guest: an ordinary command-line program built for wasm32-wasip2. It is a valid
//! component but exports no Keyhaven hook (only `wasi:cli/run`), so a deploy must refuse it.

fn main() {
    println!("hello from a component that is not an extension");
}
