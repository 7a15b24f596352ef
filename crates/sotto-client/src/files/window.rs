//! How many chunk requests a transfer keeps in flight: it grows by one for each window's worth
//! of answers and halves when a request fails (a relay busy or a path lost), as TCP's
//! congestion window does, so a transfer fills what the network carries and backs off when
//! relays are loaded.

pub(crate) const INITIAL: usize = 8;
const MAX: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Window {
    size: usize,
    /// Answers since the window last grew.
    answered: usize,
}

impl Default for Window {
    fn default() -> Self {
        Self {
            size: INITIAL,
            answered: 0,
        }
    }
}

impl Window {
    pub fn size(&self) -> usize {
        self.size
    }

    pub fn answered(&mut self) {
        self.answered += 1;
        if self.answered >= self.size {
            self.answered = 0;
            self.size = (self.size + 1).min(MAX);
        }
    }

    pub fn failed(&mut self) {
        self.answered = 0;
        self.size = (self.size / 2).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_with_answers_and_halves_on_failures() {
        let mut window = Window::default();
        for _ in 0..INITIAL {
            window.answered();
        }
        assert_eq!(window.size(), INITIAL + 1);
        window.failed();
        assert_eq!(window.size(), 4, "9 halved");
        for _ in 0..10 {
            window.failed();
        }
        assert_eq!(window.size(), 1);
        for _ in 0..100_000 {
            window.answered();
        }
        assert_eq!(window.size(), MAX);
    }
}
