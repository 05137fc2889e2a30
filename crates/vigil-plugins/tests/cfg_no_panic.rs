//! The `.cfg` loader and line parser never panic on arbitrary input.

use proptest::prelude::*;
use vigil_plugins::cfg::{AgentSettings, ParseContext, Plugin, ini, rx};

const PLUGIN: &str = "[DEFAULT]\nplugin_id=5\n[config]\nsource=log\n[translation]\na=1\n\
[r1]\nevent_type=event\nprecheck=x\nregexp=(?P<a>\\w+)?x(\\d*)\nplugin_sid={translate($a)}\ndate={normalize_date($2)}\nuserdata1={hextoint($2)}\nuserdata2=$CONCAT($a,-,$2)\n\
[r2]\nevent_type=event\nregexp=(?P<d>\\S+ +\\S+ \\S+)\\s+(\\S*)\nplugin_sid=2\ndate={normalize_date($d)}\nuserdata1={md5sum($2)}\nuserdata2={upper($2)}{snort_id($2)}\n";

proptest! {
    #[test]
    fn parse_never_panics(line in "\\PC{0,120}") {
        let (p, _) = Plugin::from_text("p.cfg", PLUGIN, &AgentSettings::default()).expect("loads");
        let cx = ParseContext::for_year(2020);
        let _ = p.parse(&line, &cx);
    }

    #[test]
    fn loader_never_panics(text in "(\\[[a-zA-Z ]{0,6}\\]\n|[a-z_]{1,6}[=:][^\n]{0,30}\n|[ #;][^\n]{0,10}\n|\\PC{0,20}\n){0,12}") {
        let _ = ini::parse(&text);
        let with_default = format!("[DEFAULT]\nplugin_id=1\n[config]\nsource=log\n{text}");
        if let Ok((p, _)) = Plugin::from_text("p.cfg", &with_default, &AgentSettings::default()) {
            let _ = p.parse("Jan  1 00:00:00 host x: y", &ParseContext::for_year(2020));
        }
    }

    #[test]
    fn regex_translation_never_panics(pattern in "[\\\\(){}\\[\\]?*+|a-zA-Z0-9,=:<>!^$P#-]{0,40}") {
        let t = rx::translate(&pattern);
        let _ = rx::compile(&t);
        let _ = vigil_plugins::cfg::literals::required_literals(&t.pattern);
    }
}
