//! The SDK through its generated bindings: uniffi-bindgen (the `uniffi-bindgen` bin of this
//! package) generates them from the built library, and a real server on a free port answers.
//! Python drives the fuller visit (`mobile-sdk/tests/python/visit.py`); a Kotlin program
//! compiled against the Kotlin bindings does the visit on the JVM (`mobile-sdk/tests/kotlin`).

use std::{path::PathBuf, process::Command};

use loanwatch_e2e::{PASSWORD, TestApp};
use loanwatch_sdk::watermark::sample_jpeg;

use crate::sdk::{arrived_once, font, resubmitted, return_task, visit_fixture};

/// The SDK's shared library, built beside this test as a dependency.
fn sdk_library() -> anyhow::Result<PathBuf> {
    let deps = std::env::current_exe()?
        .parent()
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("the test binary has no directory"))?;
    let name = format!(
        "{}loanwatch_sdk{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    let lib = deps.join(&name);
    anyhow::ensure!(lib.exists(), "{} was not built", lib.display());
    Ok(lib)
}

/// Generates the bindings for `language` into `out` with the library beside them.
fn generate(language: &str, out: &std::path::Path) -> anyhow::Result<PathBuf> {
    let lib = sdk_library()?;
    let status = Command::new(env!("CARGO_BIN_EXE_uniffi-bindgen"))
        .args(["generate", "--library"])
        .arg(&lib)
        .args(["--language", language, "--no-format", "--out-dir"])
        .arg(out)
        .status()?;
    anyhow::ensure!(status.success(), "uniffi-bindgen {language}: {status}");
    let copy = out.join(lib.file_name().unwrap_or_default());
    std::fs::copy(&lib, &copy)?;
    Ok(copy)
}

/// `python3`, required on CI.
fn python() -> Option<&'static str> {
    if Command::new("python3").arg("--version").output().is_ok() {
        return Some("python3");
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "python3 is needed for the SDK's binding tests"
    );
    eprintln!("SKIPPED: the Python binding tests need python3");
    None
}

/// The Kotlin compiler (npm `kotlin-compiler`: `KOTLIN_HOME`, or `.tools/kotlin` as `.ci/run`
/// installs it) and JNA (Debian `libjna-java`), required on CI.
fn kotlin() -> Option<(PathBuf, PathBuf)> {
    let home = std::env::var("KOTLIN_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../.tools/kotlin/node_modules/kotlin-compiler")
        });
    let jna = std::env::var("JNA_JAR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/share/java/jna.jar"));
    let java = Command::new("java").arg("-version").output().is_ok();
    if java && home.join("lib/kotlin-compiler.jar").exists() && jna.exists() {
        return Some((home, jna));
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the Kotlin binding test needs java, npm kotlin-compiler in .tools/kotlin and libjna-java"
    );
    eprintln!(
        "SKIPPED: the Kotlin binding test needs java, `npm install --prefix .tools/kotlin \
         kotlin-compiler@2.4.20` and Debian's libjna-java"
    );
    None
}

/// The device and its inputs for one scripted visit.
struct Device {
    dir: tempfile::TempDir,
    font: String,
}

impl Device {
    fn new(font: String) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("device"))?;
        std::fs::create_dir_all(dir.path().join("bindings"))?;
        // The camera's pictures: each a different frame, as a real camera's are.
        std::fs::create_dir_all(dir.path().join("camera"))?;
        for n in 1..=4u32 {
            std::fs::write(
                dir.path().join(format!("camera/{n}.jpg")),
                sample_jpeg(1000 + 8 * n, 750, if n % 2 == 0 { 1 } else { 6 })?,
            )?;
        }
        Ok(Self { dir, font })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs a program with the visit's configuration in its environment.
    fn run(&self, app: &TestApp, task: &str, mut cmd: Command) -> anyhow::Result<()> {
        let out = cmd
            .env("LOANWATCH_URL", &app.base)
            .env("LOANWATCH_DATA", self.path("device"))
            .env("LOANWATCH_TASK", task)
            .env("LOANWATCH_USER", "a.officer")
            .env("LOANWATCH_PASSWORD", PASSWORD)
            .env("LOANWATCH_FONT", &self.font)
            .env("LOANWATCH_CAMERA", self.path("camera"))
            .env("LOANWATCH_RESULT", self.path("result"))
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "{cmd:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    }
}

fn kotlin_bindings_drive_a_visit(app: &TestApp) -> anyhow::Result<()> {
    let (Some(font), Some((home, jna))) = (font(), kotlin()) else {
        return Ok(());
    };
    let (inst, task) = visit_fixture(app)?;
    let device = Device::new(font)?;
    let bindings = device.path("bindings");
    let lib = generate("kotlin", &bindings)?;
    let generated = bindings.join("uniffi/loanwatch_sdk/loanwatch_sdk.kt");
    let visit =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mobile-sdk/tests/kotlin/Visit.kt");
    let jar = device.path("visit.jar");
    let compiled = Command::new("java")
        .arg("-cp")
        .arg(home.join("lib/kotlin-compiler.jar"))
        .arg("org.jetbrains.kotlin.cli.jvm.K2JVMCompiler")
        .arg("-kotlin-home")
        .arg(&home)
        .args(["-no-reflect", "-nowarn", "-jvm-target", "17", "-cp"])
        .arg(&jna)
        .arg(&generated)
        .arg(&visit)
        .arg("-d")
        .arg(&jar)
        .output()?;
    anyhow::ensure!(
        compiled.status.success(),
        "kotlinc: {}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    let classpath = std::env::join_paths([jar, home.join("lib/kotlin-stdlib.jar"), jna])?;
    let mut java = Command::new("java");
    java.arg(format!(
        "-Djna.library.path={}",
        lib.parent().unwrap_or(&bindings).display()
    ))
    .arg("-cp")
    .arg(classpath)
    .arg("VisitKt");
    device.run(app, &task, java)?;
    let hashes: Vec<String> = std::fs::read_to_string(device.path("result"))?
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(hashes.len(), 3);
    arrived_once(app, &inst, &task, hashes)
}

#[test]
fn kotlin_bindings_drive_a_visit_on_sqlite() -> anyhow::Result<()> {
    match loanwatch_e2e::spawn_app(loanwatch_e2e::Backend::Sqlite)? {
        Some(app) => kotlin_bindings_drive_a_visit(&app),
        None => Ok(()),
    }
}

fn python_bindings_drive_a_visit(app: &TestApp) -> anyhow::Result<()> {
    let (Some(font), Some(python)) = (font(), python()) else {
        return Ok(());
    };
    let (inst, task) = visit_fixture(app)?;
    let device = Device::new(font)?;
    let bindings = device.path("bindings");
    generate("python", &bindings)?;
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mobile-sdk/tests/python/visit.py");
    let phase = |name: &str| {
        let mut cmd = Command::new(python);
        cmd.arg(&script).arg(name).env("PYTHONPATH", &bindings);
        cmd
    };
    device.run(app, &task, phase("visit"))?;
    let result: serde_json::Value = serde_json::from_slice(&std::fs::read(device.path("result"))?)?;
    let hashes: Vec<String> = result["hashes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(hashes.len(), 3, "{result}");
    assert!(result["steps"].as_u64().unwrap_or(0) >= 10, "{result}");
    arrived_once(app, &inst, &task, hashes)?;
    return_task(app, &inst, &task)?;
    device.run(app, &task, phase("rework"))?;
    resubmitted(app, &inst, &task)
}

#[test]
fn python_bindings_drive_a_visit_on_sqlite() -> anyhow::Result<()> {
    match loanwatch_e2e::spawn_app(loanwatch_e2e::Backend::Sqlite)? {
        Some(app) => python_bindings_drive_a_visit(&app),
        None => Ok(()),
    }
}

/// Every file under `dir`, by relative path, with its bytes.
fn tree(dir: &std::path::Path) -> anyhow::Result<std::collections::BTreeMap<PathBuf, Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let rel = path.strip_prefix(dir)?.to_path_buf();
                out.insert(rel, std::fs::read(&path)?);
            }
        }
    }
    Ok(out)
}

/// Kotlin, Swift and Python bindings come out byte for byte the same from the same library:
/// app builds can regenerate them and review the diff.
#[test]
fn bindings_are_generated_reproducibly() -> anyhow::Result<()> {
    for (language, expected) in [
        ("kotlin", "uniffi/loanwatch_sdk/loanwatch_sdk.kt"),
        ("swift", "loanwatch_sdk.swift"),
        ("python", "loanwatch_sdk.py"),
    ] {
        let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
        generate(language, a.path())?;
        generate(language, b.path())?;
        let (first, second) = (tree(a.path())?, tree(b.path())?);
        assert!(
            first.contains_key(&PathBuf::from(expected)),
            "{language}: {:?}",
            first.keys().collect::<Vec<_>>()
        );
        assert!(
            first == second,
            "{language} bindings differ between two runs"
        );
    }
    Ok(())
}
