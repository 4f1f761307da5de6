pub fn page(_r: &super::Report) -> String { String::new() }
