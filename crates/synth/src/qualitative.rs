//! The synthetic qualitative twin: charted interviews consistent with the report's findings.
//!
//! The real interview summaries are confidential, so the repository ships a synthetic sample in
//! `data/qualitative/`, generated from a committed source, `data/qualitative/source/twin.toml`:
//!
//! - `[[sample]]`: how many interviews of each type in each wave (51, 63 and 40 in all), the
//!   roles of staff and partners, and the weights of participants' cohorts, age bands and
//!   genders;
//! - `[[fragment]]`: charted summaries written for the twin, each for one sub-theme, typed
//!   exactly as a researcher would chart it (valence mark first, see
//!   [`evalpipe_framework::cell`]), with the
//!   interview types, waves, cohorts and lots it fits; `{a|b|c}` picks one of the alternatives and
//!   `{lot}` names the case's lot, so that no two cases read alike;
//! - `[[story]]`: whole cases written by hand (the report's Boxes 4-1 to 4-5, re-told);
//! - `[[cmo]]`: the context–mechanism–outcome links, each with the evidence (sub-theme and
//!   valence) a supporting case must have charted.
//!
//! A seeded generator (ChaCha) draws each case's attributes, the sub-themes charted and the
//! fragment for each, so the same source writes byte-identical workbooks (the workbooks' creation
//! date is fixed). Regenerate with `cargo run -p evalpipe-synth --example qualitative_twin`.
//!
//! The generator writes the input of the Framework stage (`evalpipe_framework`) in the layout
//! that stage reads ([`evalpipe_framework::input`]), as the quantitative twin writes the input
//! of ingest; it is no part of the stage.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use evalpipe_framework::Codebook;
use evalpipe_framework::cell::{self, Valence};
use evalpipe_framework::input::{
    CASE_COLUMNS, CASES_FILE, CASES_SHEET, CMO_COLUMNS, CMO_FILE, CMO_SHEET, MATRIX_SHEET,
    QUOTE_COLUMNS, QUOTES_SHEET,
};
use evalpipe_study::{SYNTHETIC_MARKER, Study};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
use serde::Deserialize;

use crate::{Error, Result};

/// Where the source of the committed twin lives, relative to its folder.
pub const SOURCE_FILE: &str = "source/twin.toml";

/// The twin's source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TwinSource {
    /// Seed of the generator.
    pub seed: u64,
    /// Interviews per wave and type.
    pub sample: Vec<SampleCell>,
    /// Roles of interviewees by interview type (cycled through).
    pub roles: BTreeMap<String, Vec<String>>,
    /// Participants' attribute weights.
    pub participants: ParticipantWeights,
    /// Sub-themes charted per case, `[min, max]`, by interview type.
    pub density: BTreeMap<String, [usize; 2]>,
    /// Chance that a case's cell cites an illustrative quote when its fragment has one.
    pub quote_chance: f64,
    /// Charted summaries.
    #[serde(rename = "fragment")]
    pub fragments: Vec<Fragment>,
    /// Hand-written cases.
    #[serde(rename = "story", default)]
    pub stories: Vec<Story>,
    /// Context–mechanism–outcome links.
    #[serde(rename = "cmo")]
    pub cmo: Vec<CmoSource>,
}

/// Interviews of one type in one wave.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleCell {
    /// Wave.
    pub wave: i64,
    /// Interview type code.
    pub interview_type: String,
    /// Interviews.
    pub n: usize,
    /// Lots to draw from, in turn (default: all nine).
    #[serde(default)]
    pub lots: Vec<String>,
}

/// Weighted choices for participants.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantWeights {
    /// (cohort code, weight).
    pub cohorts: Vec<(String, u32)>,
    /// (age band, weight).
    pub age_bands: Vec<(String, u32)>,
    /// (gender, weight).
    pub genders: Vec<(String, u32)>,
}

/// A charted summary the generator can give a case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fragment {
    /// Sub-theme code.
    pub code: String,
    /// Cell text with its valence mark; `{a|b}` alternatives and `{lot}`.
    pub text: String,
    /// Interview types it fits (default: the sub-theme's).
    #[serde(default)]
    pub types: Vec<String>,
    /// Waves it fits (default: all).
    #[serde(default)]
    pub waves: Vec<i64>,
    /// Cohorts it fits, for participants (default: all).
    #[serde(default)]
    pub cohorts: Vec<String>,
    /// Lots it fits (default: all), for what happened in some lots only.
    #[serde(default)]
    pub lots: Vec<String>,
    /// Roles it fits (default: all), e.g. what only an agency would say.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Relative weight (default 1).
    #[serde(default = "one")]
    pub weight: u32,
    /// An illustrative quote the cell may cite.
    pub quote: Option<String>,
}

fn one() -> u32 {
    1
}

/// A hand-written case.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Story {
    /// What it re-tells (e.g. `Box 4-1`); not written to the workbooks.
    pub retells: String,
    /// Interview type.
    pub interview_type: String,
    /// Wave.
    pub wave: i64,
    /// Lot code.
    pub lot: Option<String>,
    /// Role.
    pub role: Option<String>,
    /// Cohort code.
    pub cohort: Option<String>,
    /// Age band.
    pub age_band: Option<String>,
    /// Gender.
    pub gender: Option<String>,
    /// Sub-theme code → cell text (with marks).
    pub cells: BTreeMap<String, String>,
    /// Sub-theme code → quote the cell cites.
    #[serde(default)]
    pub quotes: BTreeMap<String, String>,
}

impl Story {
    /// The story as case `id`, charted as written.
    fn case(&self, id: String) -> TwinCase {
        TwinCase {
            id,
            interview_type: self.interview_type.clone(),
            wave: self.wave,
            lot: self.lot.clone(),
            role: self.role.clone(),
            cohort: self.cohort.clone(),
            age_band: self.age_band.clone(),
            gender: self.gender.clone(),
            cells: self
                .cells
                .iter()
                .map(|(c, t)| (c.clone(), (t.clone(), self.quotes.get(c).cloned())))
                .collect(),
        }
    }
}

/// A context–mechanism–outcome link and the evidence that selects its supporting cases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmoSource {
    /// Figure id.
    pub figure: String,
    /// `enables` or `hinders`.
    pub direction: String,
    /// Context.
    pub context: String,
    /// Mechanism.
    pub mechanism: String,
    /// Outcome.
    pub outcome: String,
    /// `CODE:+` or `CODE:-`: a supporting case charts every one with that lean (a `(+/-)` cell
    /// fits both).
    pub evidence: Vec<String>,
}

/// A generated case with its cells.
#[derive(Debug, Clone)]
struct TwinCase {
    id: String,
    interview_type: String,
    wave: i64,
    lot: Option<String>,
    role: Option<String>,
    cohort: Option<String>,
    age_band: Option<String>,
    gender: Option<String>,
    /// Sub-theme code → (cell text, quote text).
    cells: BTreeMap<String, (String, Option<String>)>,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone)]
pub struct TwinSummary {
    /// Cases per wave.
    pub cases_by_wave: BTreeMap<i64, usize>,
    /// Charted cells.
    pub cells: usize,
    /// Files written, sorted.
    pub files: Vec<PathBuf>,
}

/// Reads the twin's source.
pub fn load_source(path: &Path) -> Result<TwinSource> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| Error::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn abbreviation(interview_type: &str) -> String {
    match interview_type {
        "stakeholder" => "ST".into(),
        "provider" => "PR".into(),
        "partner" => "PA".into(),
        "participant" => "PT".into(),
        "employer" => "EM".into(),
        other => other.chars().take(2).collect::<String>().to_uppercase(),
    }
}

fn weighted<'a, T>(rng: &mut ChaCha20Rng, items: &'a [(T, u32)]) -> Option<&'a T> {
    let total: u32 = items.iter().map(|(_, w)| *w).sum();
    if total == 0 {
        return None;
    }
    let mut x = rng.random_range(0..total);
    for (item, w) in items {
        if x < *w {
            return Some(item);
        }
        x -= *w;
    }
    None
}

/// What the named slots of a fragment stand for in one case.
struct Slots {
    lot: String,
    /// she, her (possessive), her (object), herself, by gender.
    pronouns: [&'static str; 4],
}

impl Slots {
    fn new(lot: String, gender: Option<&str>) -> Slots {
        let pronouns = match gender {
            Some("Female") => ["she", "her", "her", "herself"],
            Some("Male") => ["he", "his", "him", "himself"],
            _ => ["they", "their", "them", "themselves"],
        };
        Slots { lot, pronouns }
    }
}

/// Fills the named slots (`{lot}`, `{she}`, `{her}`, `{them}`, `{herself}`), then the
/// `{a|b|c}` alternatives (which may contain slots).
fn fill(rng: &mut ChaCha20Rng, text: &str, slots: &Slots) -> String {
    let [she, her, them, herself] = slots.pronouns;
    let text = text
        .replace("{lot}", &slots.lot)
        .replace("{she}", she)
        .replace("{her}", her)
        .replace("{them}", them)
        .replace("{herself}", herself);
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}').map(|c| open + c) else {
            break;
        };
        out.push_str(&rest[..open]);
        let options: Vec<&str> = rest[open + 1..close].split('|').collect();
        out.push_str(options[rng.random_range(0..options.len())]);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    // A summary that opens with a pronoun slot starts with a capital.
    let mut chars = out.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => out,
    }
}

impl TwinSource {
    fn check(&self, codebook: &Codebook, study: &Study, path: &Path) -> Result<()> {
        let err = |message: String| Error::Config {
            path: path.to_path_buf(),
            message,
        };
        for f in &self.fragments {
            let Some((_, s)) = codebook.subtheme(&f.code) else {
                return Err(err(format!("fragment for unknown sub-theme `{}`", f.code)));
            };
            if let Some(t) = f.types.iter().find(|t| !s.types.contains(t)) {
                return Err(err(format!(
                    "fragment of {} for type `{t}`, which the codebook does not chart it for",
                    f.code
                )));
            }
        }
        for s in &self.stories {
            for code in s.cells.keys().chain(s.quotes.keys()) {
                if codebook.subtheme(code).is_none() {
                    return Err(err(format!("{}: unknown sub-theme `{code}`", s.retells)));
                }
            }
        }
        for l in self
            .sample
            .iter()
            .flat_map(|s| &s.lots)
            .chain(self.fragments.iter().flat_map(|f| &f.lots))
        {
            if !study.lots.iter().any(|x| &x.code == l) {
                return Err(err(format!("sample lot `{l}` is not a lot of the study")));
            }
        }
        Ok(())
    }

    /// Draws the cases.
    fn cases(&self, codebook: &Codebook, study: &Study) -> Vec<TwinCase> {
        let mut rng = ChaCha20Rng::seed_from_u64(self.seed);
        let lot_name = |code: &Option<String>| {
            code.as_ref()
                .and_then(|c| study.lots.iter().find(|l| &l.code == c))
                .map(|l| l.name.clone())
                .unwrap_or_else(|| "the area".into())
        };
        let mut cases = Vec::new();
        let mut samples = self.sample.clone();
        // Waves in order, types in the codebook's order within a wave.
        samples.sort_by_key(|s| {
            (
                s.wave,
                codebook
                    .interview_types
                    .iter()
                    .position(|t| t.code == s.interview_type),
            )
        });
        let mut role_turn: BTreeMap<String, usize> = BTreeMap::new();
        for (k, s) in samples.iter().enumerate() {
            let stories: Vec<&Story> = self
                .stories
                .iter()
                .filter(|st| st.wave == s.wave && st.interview_type == s.interview_type)
                .collect();
            let lots: Vec<String> = if s.lots.is_empty() {
                study.lots.iter().map(|l| l.code.clone()).collect()
            } else {
                s.lots.clone()
            };
            for i in 0..s.n {
                let id = format!(
                    "W{}-{}{:02}",
                    s.wave,
                    abbreviation(&s.interview_type),
                    i + 1
                );
                // The hand-written stories take the first places of their wave and type.
                if let Some(st) = stories.get(i) {
                    cases.push(st.case(id));
                    continue;
                }
                let roles = self.roles.get(&s.interview_type);
                let role = roles.filter(|r| !r.is_empty()).map(|r| {
                    let turn = role_turn.entry(s.interview_type.clone()).or_insert(0);
                    *turn += 1;
                    r[(*turn - 1) % r.len()].clone()
                });
                // Programme-level stakeholders (commissioner, DWP) belong to no lot.
                let programme = s.interview_type == "stakeholder"
                    && !role
                        .as_deref()
                        .is_some_and(|r| r.contains("local authority"));
                let lot = (!programme).then(|| lots[(i + k * 4) % lots.len()].clone());
                let participant = s.interview_type == "participant";
                let p = &self.participants;
                let cohort = participant
                    .then(|| weighted(&mut rng, &p.cohorts).cloned())
                    .flatten();
                let age_band = participant
                    .then(|| weighted(&mut rng, &p.age_bands).cloned())
                    .flatten();
                let gender = participant
                    .then(|| weighted(&mut rng, &p.genders).cloned())
                    .flatten();
                let mut case = TwinCase {
                    id,
                    interview_type: s.interview_type.clone(),
                    wave: s.wave,
                    lot,
                    role,
                    cohort,
                    age_band,
                    gender,
                    cells: BTreeMap::new(),
                };
                let slots = Slots::new(lot_name(&case.lot), case.gender.as_deref());
                self.chart(&mut rng, codebook, &mut case, &slots);
                cases.push(case);
            }
        }
        cases
    }

    /// Picks the sub-themes a case charts and a fragment for each.
    fn chart(
        &self,
        rng: &mut ChaCha20Rng,
        codebook: &Codebook,
        case: &mut TwinCase,
        slots: &Slots,
    ) {
        let fits = |f: &Fragment| {
            let types_ok = if f.types.is_empty() {
                codebook
                    .subtheme(&f.code)
                    .is_some_and(|(_, s)| s.types.contains(&case.interview_type))
            } else {
                f.types.contains(&case.interview_type)
            };
            types_ok
                && (f.waves.is_empty() || f.waves.contains(&case.wave))
                && (f.cohorts.is_empty()
                    || case.cohort.as_ref().is_some_and(|c| f.cohorts.contains(c)))
                && (f.lots.is_empty() || case.lot.as_ref().is_some_and(|l| f.lots.contains(l)))
                && (f.roles.is_empty() || case.role.as_ref().is_some_and(|r| f.roles.contains(r)))
        };
        let mut by_code: BTreeMap<&str, Vec<&Fragment>> = BTreeMap::new();
        for f in self.fragments.iter().filter(|f| fits(f)) {
            by_code.entry(&f.code).or_default().push(f);
        }
        let [lo, hi] = self
            .density
            .get(&case.interview_type)
            .copied()
            .unwrap_or([3, 5]);
        let want = rng.random_range(lo..=hi.max(lo)).min(by_code.len());
        let mut pool: Vec<(&str, u32)> = by_code
            .iter()
            .map(|(c, fs)| (*c, fs.iter().map(|f| f.weight).sum()))
            .collect();
        let mut chosen = BTreeSet::new();
        while chosen.len() < want {
            let Some(code) = weighted(rng, &pool).copied() else {
                break;
            };
            chosen.insert(code);
            pool.retain(|(c, _)| *c != code);
        }
        for code in chosen {
            let options: Vec<(&Fragment, u32)> =
                by_code[code].iter().map(|f| (*f, f.weight)).collect();
            let Some(f) = weighted(rng, &options) else {
                continue;
            };
            let text = fill(rng, &f.text, slots);
            let quote = match &f.quote {
                Some(q) if rng.random_bool(self.quote_chance.clamp(0.0, 1.0)) => {
                    Some(fill(rng, q, slots))
                }
                _ => None,
            };
            case.cells.insert(code.to_string(), (text, quote));
        }
    }
}

/// A sheet to write: name and rows (the first is the header).
pub type SheetRows = (String, Vec<Vec<String>>);

/// Writes a workbook of text sheets with a fixed creation date (byte-identical for the same
/// rows). Numbers-looking cells of a column named `wave` are written as numbers, as Excel keeps
/// them.
pub fn write_workbook(path: &Path, sheets: &[SheetRows], comment: Option<&str>) -> Result<()> {
    let err = |source: rust_xlsxwriter::XlsxError| Error::Xlsx {
        path: path.to_path_buf(),
        source,
    };
    let mut wb = Workbook::new();
    let fixed = ExcelDateTime::from_ymd(2000, 1, 1).map_err(err)?;
    let mut props = DocProperties::new().set_creation_datetime(&fixed);
    if let Some(c) = comment {
        props = props.set_comment(c);
    }
    wb.set_properties(&props);
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet().set_name(name).map_err(err)?;
        let header = rows.first().cloned().unwrap_or_default();
        for (i, row) in rows.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                if v.is_empty() {
                    continue;
                }
                let (r, c) = (i as u32, j as u16);
                if i == 0 {
                    ws.write_string_with_format(r, c, v, &bold).map_err(err)?;
                } else if header.get(j).is_some_and(|h| h == "wave")
                    && let Ok(x) = v.parse::<f64>()
                {
                    ws.write_number(r, c, x).map_err(err)?;
                } else if v.len() > 40 {
                    ws.write_string_with_format(r, c, v, &wrap).map_err(err)?;
                } else {
                    ws.write_string(r, c, v).map_err(err)?;
                }
            }
        }
        for (j, h) in header.iter().enumerate() {
            let wide = rows
                .iter()
                .skip(1)
                .any(|r| r.get(j).is_some_and(|v| v.len() > 40));
            let width = if wide {
                48.0
            } else {
                (h.len() as f64 + 4.0).max(12.0)
            };
            ws.set_column_width(j as u16, width).map_err(err)?;
        }
    }
    wb.save(path).map_err(err)
}

/// Notice written into every twin workbook and the marker file.
pub const TWIN_NOTICE: &str = "SYNTHETIC: the evalpipe synthetic qualitative twin. Every case and summary is invented, written to be consistent with the published findings; no row is a real interview.";

/// Writes the twin from `source` into `out`: `cases.xlsx`, a matrix workbook per interview type,
/// `cmo.xlsx` and `SYNTHETIC.toml`.
pub fn generate(
    source_path: &Path,
    codebook: &Codebook,
    study: &Study,
    out: &Path,
) -> Result<TwinSummary> {
    let source = load_source(source_path)?;
    source.check(codebook, study, source_path)?;
    let cases = source.cases(codebook, study);
    std::fs::create_dir_all(out).map_err(|source| Error::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();

    let path = out.join(CASES_FILE);
    write_workbook(
        &path,
        &[(CASES_SHEET.into(), case_sheet(&cases))],
        Some(TWIN_NOTICE),
    )?;
    files.push(path);

    let mut cells = 0;
    for t in &codebook.interview_types {
        let (matrix, quotes, charted) = matrix_sheets(codebook, &t.code, &cases);
        cells += charted;
        let path = out.join(&t.workbook);
        write_workbook(
            &path,
            &[(MATRIX_SHEET.into(), matrix), (QUOTES_SHEET.into(), quotes)],
            Some(TWIN_NOTICE),
        )?;
        files.push(path);
    }

    let path = out.join(CMO_FILE);
    write_workbook(
        &path,
        &[(CMO_SHEET.into(), cmo_sheet(&source, &cases))],
        Some(TWIN_NOTICE),
    )?;
    files.push(path);

    let mut by_wave = BTreeMap::new();
    for c in &cases {
        *by_wave.entry(c.wave).or_insert(0) += 1;
    }
    let marker = out.join(SYNTHETIC_MARKER);
    write_marker(&marker, &source, &by_wave, cells)?;
    files.push(marker);
    files.sort();
    Ok(TwinSummary {
        cases_by_wave: by_wave,
        cells,
        files,
    })
}

/// The case sheet: one row per case, its attributes in the order the stage reads them.
fn case_sheet(cases: &[TwinCase]) -> Vec<Vec<String>> {
    let mut rows = vec![CASE_COLUMNS.iter().map(|s| s.to_string()).collect()];
    for c in cases {
        rows.push(vec![
            c.id.clone(),
            c.interview_type.clone(),
            c.wave.to_string(),
            c.lot.clone().unwrap_or_default(),
            c.role.clone().unwrap_or_default(),
            c.cohort.clone().unwrap_or_default(),
            c.age_band.clone().unwrap_or_default(),
            c.gender.clone().unwrap_or_default(),
        ]);
    }
    rows
}

/// The matrix of one interview type (case × the sub-themes the codebook charts for it) and its
/// quotes sheet, each quote numbered and cited in its cell; and how many cells are charted.
fn matrix_sheets(
    codebook: &Codebook,
    interview_type: &str,
    cases: &[TwinCase],
) -> (Vec<Vec<String>>, Vec<Vec<String>>, usize) {
    let columns = codebook.subthemes_for(interview_type);
    let mut header = vec!["case_id".to_string()];
    header.extend(
        columns
            .iter()
            .map(|(_, s)| format!("{} {}", s.code, s.label)),
    );
    let mut matrix = vec![header];
    let mut quotes = vec![QUOTE_COLUMNS.iter().map(|s| s.to_string()).collect()];
    let mut n_quotes = 0;
    let mut cells = 0;
    for c in cases.iter().filter(|c| c.interview_type == interview_type) {
        let mut row = vec![c.id.clone()];
        for (_, s) in &columns {
            let text = match c.cells.get(&s.code) {
                None => String::new(),
                Some((text, quote)) => {
                    cells += 1;
                    let parsed = cell::parse(text);
                    let mut refs = parsed.quotes.clone();
                    if let Some(q) = quote {
                        n_quotes += 1;
                        let id = format!("Q-{}-{n_quotes:03}", abbreviation(interview_type));
                        quotes.push(vec![c.id.clone(), s.code.clone(), q.clone()]);
                        let last = quotes.len() - 1;
                        quotes[last].insert(0, id.clone());
                        refs.push(id);
                    }
                    cell::compose(parsed.valence, &parsed.summary, &refs)
                }
            };
            row.push(text);
        }
        matrix.push(row);
    }
    (matrix, quotes, cells)
}

/// The context–mechanism–outcome sheet: each link with the cases whose charted cells carry
/// its evidence.
fn cmo_sheet(source: &TwinSource, cases: &[TwinCase]) -> Vec<Vec<String>> {
    let mut cmo = vec![CMO_COLUMNS.iter().map(|s| s.to_string()).collect()];
    for l in &source.cmo {
        let support: Vec<&str> = cases
            .iter()
            .filter(|c| l.evidence.iter().all(|e| has_evidence(c, e)))
            .map(|c| c.id.as_str())
            .collect();
        cmo.push(vec![
            l.figure.clone(),
            l.direction.clone(),
            l.context.clone(),
            l.mechanism.clone(),
            l.outcome.clone(),
            support.join(", "),
        ]);
    }
    cmo
}

/// `SYNTHETIC.toml`: the folder is the twin, from which source and seed, and what it holds.
fn write_marker(
    marker: &Path,
    source: &TwinSource,
    by_wave: &BTreeMap<i64, usize>,
    cells: usize,
) -> Result<()> {
    let cases: usize = by_wave.values().sum();
    let waves = by_wave
        .iter()
        .map(|(w, n)| format!("{w} = {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The generator keeps the name it had in evalpipe-framework: the committed marker of
    // data/qualitative/ records it, and the same source writes the same bytes.
    let text = format!(
        "# This folder holds the evalpipe SYNTHETIC QUALITATIVE TWIN. Every case and summary in it is synthetic.\n\
         synthetic = true\n\
         statement = \"{TWIN_NOTICE}\"\n\
         generator = \"evalpipe-framework twin\"\n\
         generator_version = \"{}\"\n\
         source = \"{SOURCE_FILE}\"\n\
         seed = {}\n\
         cases = {}\n\
         cases_by_wave = {{ {waves} }}\n\
         cells = {cells}\n",
        env!("CARGO_PKG_VERSION"),
        source.seed,
        cases,
    );
    std::fs::write(marker, text).map_err(|source| Error::Write {
        path: marker.to_path_buf(),
        source,
    })
}

/// Whether a case charted `CODE:+` / `CODE:-` (a mixed cell fits both).
fn has_evidence(case: &TwinCase, evidence: &str) -> bool {
    let (code, sign) = evidence.split_once(':').unwrap_or((evidence, ""));
    case.cells.get(code).is_some_and(|(text, _)| {
        let v = cell::parse(text).valence;
        match sign {
            "+" => matches!(v, Valence::Facilitator | Valence::Mixed),
            "-" => matches!(v, Valence::Barrier | Valence::Mixed),
            _ => true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_and_the_lot_are_filled() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let slots = Slots::new("Glascote".into(), Some("Male"));
        let s = fill(
            &mut rng,
            "met {them} at {the library|a food bank} in {lot}",
            &slots,
        );
        assert!(
            s == "Met him at the library in Glascote" || s == "Met him at a food bank in Glascote",
            "{s}"
        );
        let her = Slots::new(String::new(), Some("Female"));
        let s = fill(&mut rng, "{she} said {{her} CV|it} helped", &her);
        assert!(
            s == "She said her CV helped" || s == "She said it helped",
            "{s}"
        );
    }
}
