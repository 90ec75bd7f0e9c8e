//! The HTML page's body: the Markdown converted, every heading given an id, and the table of
//! contents built from those headings.
//!
//! A heading keeps an id written in the Markdown (`## 2 Performance {#performance}`); any other
//! gets one from its text (`2.2 Programme engagement` → `s-2-2-programme-engagement`), unique in
//! the page. The contents list the chapter (`##`) and section (`###`) headings. The body is
//! split where the first chapter starts, so the page can put the title (and the cover's notice)
//! first, the contents next and the chapters after them.

use std::collections::BTreeSet;

use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd, html};

/// One line of the table of contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TocEntry {
    /// 2 for a chapter (`##`), 3 for a section (`###`).
    pub level: u8,
    /// The heading's id, the link's target.
    pub id: String,
    /// The heading's text.
    pub text: String,
}

/// The converted body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Everything before the first chapter heading: the title and anything under it.
    pub front: String,
    /// From the first chapter heading on.
    pub chapters: String,
    /// The chapters and sections, in order.
    pub toc: Vec<TocEntry>,
}

/// The Markdown options of the report: GitHub-style tables, footnotes, `{#id}` on headings.
pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_HEADING_ATTRIBUTES
}

fn slug(text: &str) -> String {
    let mut out = String::from("s");
    let mut dash = true;
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            if dash {
                out.push('-');
            }
            out.push(c);
            dash = false;
        } else {
            dash = true;
        }
    }
    out
}

fn level(l: HeadingLevel) -> u8 {
    match l {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Converts the report's Markdown into the page body.
pub fn page(markdown: &str) -> Page {
    let mut events: Vec<Event<'_>> = Parser::new_ext(markdown, options()).collect();
    let mut used: BTreeSet<String> = BTreeSet::new();
    // Ids written in the Markdown are taken first, so a generated one never collides with them.
    for e in &events {
        if let Event::Start(Tag::Heading { id: Some(id), .. }) = e {
            used.insert(id.to_string());
        }
    }
    let mut toc = Vec::new();
    let mut first_chapter = None;
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { level: l, id, .. }) = &events[i] {
            let l = level(*l);
            let mut text = String::new();
            let mut j = i + 1;
            while j < events.len() && !matches!(events[j], Event::End(TagEnd::Heading(_))) {
                if let Event::Text(t) | Event::Code(t) = &events[j] {
                    text.push_str(t);
                }
                j += 1;
            }
            let id = match id {
                Some(id) => id.to_string(),
                None => {
                    let base = slug(&text);
                    let mut candidate = base.clone();
                    let mut n = 2;
                    while used.contains(&candidate) {
                        candidate = format!("{base}-{n}");
                        n += 1;
                    }
                    used.insert(candidate.clone());
                    candidate
                }
            };
            if let Event::Start(Tag::Heading { id: slot, .. }) = &mut events[i] {
                *slot = Some(CowStr::from(id.clone()));
            }
            if l == 2 && first_chapter.is_none() {
                first_chapter = Some(i);
            }
            if l == 2 || l == 3 {
                toc.push(TocEntry {
                    level: l,
                    id,
                    text: text.trim().to_string(),
                });
            }
            i = j;
        }
        i += 1;
    }
    let split = first_chapter.unwrap_or(events.len());
    let mut front = String::new();
    html::push_html(&mut front, events[..split].iter().cloned());
    let mut chapters = String::new();
    html::push_html(&mut chapters, events[split..].iter().cloned());
    Page {
        front,
        chapters,
        toc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_unique_ids_and_the_contents_list_chapters_and_sections() {
        let md = "# Title\n\nIntro.\n\n## 2 Performance\n\n### 2.2 Programme engagement\n\n\
                  #### 2.2.1 Detail\n\n## Annex {#annex}\n\n### Tables\n\n### Tables\n";
        let p = page(md);
        assert!(
            p.front.contains("<h1 id=\"s-title\">Title</h1>"),
            "{}",
            p.front
        );
        assert!(p.front.contains("Intro.") && !p.front.contains("<h2"));
        assert!(p.chapters.starts_with("<h2 id=\"s-2-performance\">"));
        assert!(p.chapters.contains("<h2 id=\"annex\">Annex</h2>"));
        let toc: Vec<(u8, &str, &str)> = p
            .toc
            .iter()
            .map(|t| (t.level, t.id.as_str(), t.text.as_str()))
            .collect();
        assert_eq!(
            toc,
            [
                (2, "s-2-performance", "2 Performance"),
                (3, "s-2-2-programme-engagement", "2.2 Programme engagement"),
                (2, "annex", "Annex"),
                (3, "s-tables", "Tables"),
                (3, "s-tables-2", "Tables"),
            ]
        );
    }
}
