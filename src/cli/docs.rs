//! `vigie completions SHELL` and `vigie man [DIR]`: shell completions and manual pages drawn
//! from the very definition that parses the command line, so they cannot drift from it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap_complete::Shell;

use super::Failure;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Write vigie.1 and one page per command (vigie-run.1...) there, instead of printing
    /// vigie.1.
    dir: Option<PathBuf>,
}

pub fn completions(mut command: clap::Command, args: CompletionsArgs) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "vigie", &mut out);
    out!("{}", String::from_utf8_lossy(&out))
}

pub fn man(command: clap::Command, args: ManArgs) -> Result<(), Failure> {
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .and_then(|()| clap_mangen::generate_to(command, &dir))
                .with_context(|| format!("cannot write the pages in {}", dir.display()))?;
            outln!("manual pages written in {}", dir.display())
        }
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .context("cannot render the manual page")?;
            out!("{}", String::from_utf8_lossy(&out))
        }
    }
}
