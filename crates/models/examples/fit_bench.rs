//! Fit time with 20 parameters at 4k, 100k and 1M synthetic rows (issue 4's benchmark; not a
//! timed test).
//!
//! ```sh
//! cargo run --release -p evalpipe-models --example fit_bench            # 4k, 100k, 1M
//! cargo run --release -p evalpipe-models --example fit_bench -- 4000    # chosen sizes
//! ```
//!
//! For each size it times three ways in:
//! - **stage**: the whole models stage on a run folder — one streaming pass merges
//!   `participant_categories` (one column per characteristic) with `participant_outcomes`,
//!   counts the N per step, streams the complete cases into a frame and fits it;
//! - **frame**: [`fit_source`] on a [`FrameSource`] already in memory (record batches of level
//!   indices, dummies made a chunk at a time);
//! - **dense**: [`fit`] on a dense design matrix, Newton/IRLS from the intercept-only model.
//!
//! The data: 11 categorical covariates like the report's (cohort 3 levels, provider group 4,
//! age 5, qualification 4, seven yes/no), so 19 dummies and the constant; the outcome drawn
//! from a logistic model with known coefficients, all seeded.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, UInt16Array};
use evalpipe_models::{
    Design, Factor, FitOptions, FrameSource, ModelSpec, ModelsOptions, fit, fit_source, run,
};
use evalpipe_study::{RunLayout, Study};
use ndarray::{Array1, Array2};
use parquet::arrow::ArrowWriter;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// (characteristic, levels): 2 + 3 + 4 + 3 + 7 × 1 = 19 dummies.
const FACTORS: [(&str, usize); 11] = [
    ("cohort", 3),
    ("provider_group", 4),
    ("age_band", 5),
    ("qualification", 4),
    ("health", 2),
    ("benefits", 2),
    ("coaching", 2),
    ("match_skills", 2),
    ("sex", 2),
    ("ethnicity", 2),
    ("caring_child", 2),
];

/// Rows per record batch, as DataFusion's default.
const BATCH: usize = 8192;

struct Data {
    codes: Vec<Vec<u16>>,
    y: Vec<bool>,
}

fn level(j: usize, l: usize) -> String {
    format!("{}_{l}", FACTORS[j].0)
}

fn generate(n: usize, seed: u64) -> Data {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // True effects: level l of a factor adds 0.25·l·(−1)^factor to the log-odds.
    let mut codes = vec![Vec::with_capacity(n); FACTORS.len()];
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let mut eta = -0.8;
        for (j, (_, levels)) in FACTORS.iter().enumerate() {
            let l = rng.random_range(0..*levels);
            codes[j].push(l as u16);
            let sign = if j % 2 == 0 { 1.0 } else { -1.0 };
            eta += sign * 0.25 * l as f64;
        }
        let p = 1.0 / (1.0 + (-eta).exp());
        y.push(rng.random::<f64>() < p);
    }
    Data { codes, y }
}

fn factors() -> Vec<Factor> {
    FACTORS
        .iter()
        .enumerate()
        .map(|(j, (name, levels))| Factor {
            name: name.to_string(),
            label: name.to_string(),
            characteristic: name.to_string(),
            levels: (0..*levels).map(|l| level(j, l)).collect(),
            reference: 0,
        })
        .collect()
}

fn frame(data: &Data) -> FrameSource {
    let n = data.y.len();
    let batches = (0..n)
        .step_by(BATCH)
        .map(|start| {
            let end = (start + BATCH).min(n);
            let mut columns: Vec<(String, ArrayRef)> = vec![(
                "outcome".into(),
                Arc::new(BooleanArray::from(data.y[start..end].to_vec())),
            )];
            for (j, c) in data.codes.iter().enumerate() {
                columns.push((
                    format!("cov_{j}"),
                    Arc::new(UInt16Array::from(c[start..end].to_vec())),
                ));
            }
            RecordBatch::try_from_iter(columns).expect("batch")
        })
        .collect();
    FrameSource::new(factors(), batches).expect("frame")
}

fn dense(data: &Data) -> Design {
    let n = data.y.len();
    let mut names = vec!["const".to_string()];
    let mut offsets = Vec::new();
    for (j, (name, levels)) in FACTORS.iter().enumerate() {
        offsets.push(names.len());
        for l in 1..*levels {
            names.push(format!("{name}[{}]", level(j, l)));
        }
    }
    let mut x = Array2::zeros((n, names.len()));
    for i in 0..n {
        x[[i, 0]] = 1.0;
        for (j, c) in data.codes.iter().enumerate() {
            if c[i] > 0 {
                x[[i, offsets[j] + usize::from(c[i]) - 1]] = 1.0;
            }
        }
    }
    let y = data
        .y
        .iter()
        .map(|&v| f64::from(u8::from(v)))
        .collect::<Array1<f64>>();
    Design { names, x, y }
}

/// Writes the data as a run's `participant_outcomes`, `participant_categories` (one column per
/// characteristic) and the reference table of category orders.
fn write_run(dir: &Path, data: &Data) -> RunLayout {
    let layout = RunLayout::new(dir);
    std::fs::create_dir_all(layout.tables_dir()).expect("tables dir");
    let n = data.y.len();
    let id = |i: usize| format!("P{i:08}");
    let file = |name: &str| std::fs::File::create(layout.table(name, "parquet")).expect("create");
    let mut outcomes: Option<ArrowWriter<std::fs::File>> = None;
    let mut wide: Option<ArrowWriter<std::fs::File>> = None;
    for start in (0..n).step_by(100_000) {
        let end = (start + 100_000).min(n);
        let text = |v: Vec<String>| -> ArrayRef { Arc::new(StringArray::from(v)) };
        // In extract order, as the transform writes the tables.
        let position = |rows: Vec<i64>| -> [(&str, ArrayRef); 1] {
            [(
                "place",
                Arc::new(Int64Array::from(
                    rows.into_iter()
                        .map(|row| evalpipe_study::place(1, row as u64))
                        .collect::<Vec<_>>(),
                )) as ArrayRef,
            )]
        };
        let mut o_columns = vec![
            ("participant_id", text((start..end).map(id).collect())),
            (
                "lot_code",
                text((start..end).map(|_| "L1".into()).collect()),
            ),
            (
                "payment_group",
                text((start..end).map(|_| "HTH".into()).collect()),
            ),
            (
                "is_outcome",
                Arc::new(BooleanArray::from(data.y[start..end].to_vec())) as ArrayRef,
            ),
        ];
        o_columns.extend(position((start..end).map(|i| i as i64 + 2).collect()));
        let o = RecordBatch::try_from_iter(o_columns).expect("outcomes batch");
        let mut c_columns = vec![
            (
                "lot_code",
                text((start..end).map(|_| "L1".into()).collect()),
            ),
            (
                "cohort_code",
                text((start..end).map(|_| "HTH".into()).collect()),
            ),
        ];
        for (j, (name, _)) in FACTORS.iter().enumerate() {
            c_columns.push((
                name,
                text(
                    (start..end)
                        .map(|i| level(j, usize::from(data.codes[j][i])))
                        .collect(),
                ),
            ));
        }
        c_columns.extend(position((start..end).map(|i| i as i64 + 2).collect()));
        let c = RecordBatch::try_from_iter(c_columns).expect("categories batch");
        outcomes
            .get_or_insert_with(|| {
                ArrowWriter::try_new(file("participant_outcomes"), o.schema(), None).expect("w")
            })
            .write(&o)
            .expect("write");
        wide.get_or_insert_with(|| {
            ArrowWriter::try_new(file("participant_categories"), c.schema(), None).expect("w")
        })
        .write(&c)
        .expect("write");
    }
    outcomes.expect("rows").close().expect("close");
    let wide = wide.expect("rows");
    // No completed actions: the table exists, with its columns and no rows.
    let actions = Arc::new(arrow::datatypes::Schema::new(vec![
        arrow::datatypes::Field::new("place", arrow::datatypes::DataType::Int64, false),
        arrow::datatypes::Field::new(
            "completed",
            arrow::datatypes::DataType::List(Arc::new(arrow::datatypes::Field::new_list_field(
                arrow::datatypes::DataType::Utf8,
                true,
            ))),
            true,
        ),
    ]));
    ArrowWriter::try_new(file("participant_actions"), actions, None)
        .expect("w")
        .close()
        .expect("close");
    wide.close().expect("close");
    // Each category's order, as the transform's reference table gives it.
    let (mut names, mut categories, mut orders) = (Vec::new(), Vec::new(), Vec::new());
    for (j, (name, levels)) in FACTORS.iter().enumerate() {
        for l in 0..*levels {
            names.push(name.to_string());
            categories.push(level(j, l));
            orders.push(l as i64 + 1);
        }
    }
    let values = RecordBatch::try_from_iter([
        (
            "characteristic",
            Arc::new(StringArray::from(names)) as ArrayRef,
        ),
        (
            "category",
            Arc::new(StringArray::from(categories)) as ArrayRef,
        ),
        (
            "category_order",
            Arc::new(Int64Array::from(orders)) as ArrayRef,
        ),
    ])
    .expect("reference batch");
    std::fs::create_dir_all(layout.tables_dir().join("reference")).expect("reference dir");
    let mut reference = ArrowWriter::try_new(
        file("reference/characteristic_values"),
        values.schema(),
        None,
    )
    .expect("w");
    reference.write(&values).expect("write");
    reference.close().expect("close");
    layout
}

fn spec(study: &Study) -> ModelSpec {
    let mut text = String::from(
        "id = \"bench\"\ntitle = \"Benchmark\"\ntable = \"-\"\noutcome = \"is_outcome\"\n\
         [[population]]\nlabel = \"everyone\"\ncohorts = [\"HTH\"]\n",
    );
    for (j, (name, _)) in FACTORS.iter().enumerate() {
        text.push_str(&format!(
            "[[covariate]]\nname = \"{name}\"\ncharacteristic = \"{name}\"\nreference = \"{}\"\n",
            level(j, 0)
        ));
    }
    ModelSpec::parse(Path::new("bench.toml"), &text, study).expect("spec")
}

fn main() {
    let sizes: Vec<usize> = {
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .map(|a| a.parse().expect("a row count"))
            .collect();
        if args.is_empty() {
            vec![4_000, 100_000, 1_000_000]
        } else {
            args
        }
    };
    let study = Study::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipeline"))
        .expect("the repository's pipeline/");
    let opts = FitOptions::default();
    println!(
        "{:>9}  {:>6}  {:>10}  {:>10}  {:>10}  {:>5}",
        "rows", "params", "stage s", "frame s", "dense s", "iter"
    );
    for &n in &sizes {
        let data = generate(n, 20_260_401 + n as u64);

        let tmp = tempfile::tempdir().expect("tempdir");
        let layout = write_run(&tmp.path().join("run"), &data);
        let t = Instant::now();
        let runs = run(&layout, &[spec(&study)], &ModelsOptions::default()).expect("stage");
        let stage_s = t.elapsed().as_secs_f64();
        let staged = runs[0].result.as_ref().expect("fitted");

        let source = frame(&data);
        let t = Instant::now();
        let streamed = fit_source(&source, &opts).expect("frame fit");
        let frame_s = t.elapsed().as_secs_f64();

        let design = dense(&data);
        let t = Instant::now();
        let full = fit(&design, &opts).expect("dense fit");
        let dense_s = t.elapsed().as_secs_f64();

        let max_diff = streamed
            .coefficients
            .iter()
            .zip(&full.coefficients)
            .zip(&staged.fit.coefficients)
            .map(|((a, b), c)| (a.b - b.b).abs().max((a.b - c.b).abs()))
            .fold(0.0, f64::max);
        assert!(max_diff < 1e-8, "the three paths disagree by {max_diff}");
        println!(
            "{n:>9}  {:>6}  {stage_s:>10.3}  {frame_s:>10.3}  {dense_s:>10.3}  {:>5}",
            streamed.coefficients.len(),
            streamed.iterations
        );
    }
}
