use std::time::Instant;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    use openlegion_local_llm::Weights; let deq = match args.get(2).map(String::as_str) { Some("q") => Weights::Quantized, Some("f") => Weights::F32, Some("h") => Weights::F16, _ => Weights::Auto };
    let mut m = openlegion_local_llm::Loaded::open(std::path::Path::new(&args[1]), deq).unwrap();
    println!("load {:?}", m.load_time);
    let prompt = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nWhat is the capital of France? Explain in a few sentences why it is important.<|im_end|>\n<|im_start|>assistant\n";
    let mut toks = vec![];
    for (i, part) in prompt.split("<|im_start|>").enumerate() {
        if i > 0 { toks.push(1u32); }
        for (j, p) in part.split("<|im_end|>").enumerate() { if j > 0 { toks.push(2); } toks.extend(m.tokenizer.encode(p).unwrap()); }
    }
    let long: Vec<u32> = toks.iter().cycle().take(512).copied().collect();
    let t = Instant::now();
    m.transformer.forward(&long[..256]).unwrap();
    m.transformer.forward(&long[256..]).unwrap();
    println!("prefill 512: {:?} = {:.1} tok/s", t.elapsed(), 512.0 / t.elapsed().as_secs_f64());
    m.transformer.truncate(0);
    let t = Instant::now();
    let mut logits = m.transformer.forward(&toks).unwrap();
    println!("prompt {} toks {:?}", toks.len(), t.elapsed());
    let t = Instant::now();
    let mut out = Vec::new();
    for _ in 0..64 {
        let next = logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as u32;
        if next == 2 { break; }
        out.extend_from_slice(m.tokenizer.token_bytes(next));
        logits = m.transformer.forward(&[next]).unwrap();
    }
    let n = t.elapsed();
    println!("{}", String::from_utf8_lossy(&out));
    println!("decode {:?}", n);
}
