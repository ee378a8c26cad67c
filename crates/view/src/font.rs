//! The font for chart labels.
//!
//! plotters (with its pure-Rust `ab_glyph` feature: no fontconfig or freetype to build against)
//! measures and draws text with a font registered at run time. We load a TrueType file once per
//! process: `$WEIR_FONT` if set, else DejaVu Sans as Debian's `fonts-dejavu-core` installs it, else
//! the same or Liberation Sans where other distributions put them.

use crate::ViewError;
use plotters::style::{FontStyle, register_font};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The family name charts ask for.
pub(crate) const FAMILY: &str = "sans-serif";

const REGULAR: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
];

/// Load and register the font once; later calls return the first call's outcome.
///
/// # Errors
/// [`ViewError::NoFont`] naming the paths tried.
pub(crate) fn ensure() -> Result<(), ViewError> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    match LOADED.get_or_init(load) {
        Ok(()) => Ok(()),
        Err(looked) => Err(ViewError::NoFont { looked: looked.clone() }),
    }
}

fn candidates() -> Vec<PathBuf> {
    let mut c: Vec<PathBuf> = std::env::var_os("WEIR_FONT").map(PathBuf::from).into_iter().collect();
    c.extend(REGULAR.iter().map(PathBuf::from));
    c
}

fn load() -> Result<(), String> {
    let tried = candidates();
    for path in &tried {
        if let Some(bytes) = read(path) {
            if register_font(FAMILY, FontStyle::Normal, bytes).is_err() {
                continue;
            }
            if let Some(bold) = bold_beside(path).as_deref().and_then(read) {
                // A bad bold file leaves bold text in the regular face, which is fine.
                let _ = register_font(FAMILY, FontStyle::Bold, bold);
            }
            return Ok(());
        }
    }
    Err(tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
}

/// The file's bytes, kept for the life of the process (plotters holds fonts as `'static`).
fn read(path: &Path) -> Option<&'static [u8]> {
    let bytes = std::fs::read(path).ok()?;
    Some(Box::leak(bytes.into_boxed_slice()))
}

fn bold_beside(regular: &Path) -> Option<PathBuf> {
    let name = regular.file_name()?.to_str()?;
    let bold = if let Some(stem) = name.strip_suffix("-Regular.ttf") {
        format!("{stem}-Bold.ttf")
    } else {
        format!("{}-Bold.ttf", name.strip_suffix(".ttf")?)
    };
    Some(regular.with_file_name(bold))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bold_faces_are_found_beside_the_regular_one() {
        assert_eq!(bold_beside(Path::new("/f/DejaVuSans.ttf")).unwrap(), Path::new("/f/DejaVuSans-Bold.ttf"));
        assert_eq!(
            bold_beside(Path::new("/f/LiberationSans-Regular.ttf")).unwrap(),
            Path::new("/f/LiberationSans-Bold.ttf")
        );
        assert_eq!(bold_beside(Path::new("/f/x.otf")), None);
    }

    #[test]
    fn a_font_is_available_here() {
        ensure().unwrap();
    }
}
