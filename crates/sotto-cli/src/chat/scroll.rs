//! Where the conversation view stands: at the newest message, following what arrives, or held
//! where the person scrolled back to, so that arrivals do not move what they are reading.
//!
//! Positions are in screen lines, and how many lines a message takes depends on the width,
//! which only the drawing knows: it reports what it measured through [`Scroll::top`], and the
//! keys act on the last measure.

#[derive(Debug, Default)]
pub struct Scroll {
    /// While held: the first line shown, counted from the conversation's first line (so it
    /// stays put as messages are added below). `None` follows the newest message.
    held_at: Option<usize>,
    /// Messages that arrived while held.
    unseen: usize,
    /// The view's height in lines at the last draw: a page.
    page: usize,
    /// The conversation's length in lines at the last draw.
    total: usize,
}

impl Scroll {
    /// The first line that puts the newest message at the bottom.
    fn newest_top(&self) -> usize {
        self.total.saturating_sub(self.page)
    }

    /// Holds the view at `top`, or follows the newest again if that is where `top` is.
    fn hold(&mut self, top: usize) {
        if top >= self.newest_top() {
            self.follow_newest();
        } else {
            self.held_at = Some(top);
        }
    }

    pub fn page_up(&mut self) {
        let top = self.held_at.unwrap_or_else(|| self.newest_top());
        if top > 0 {
            self.held_at = Some(top.saturating_sub(self.page));
        }
    }

    pub fn page_down(&mut self) {
        if let Some(top) = self.held_at {
            self.hold(top + self.page);
        }
    }

    pub fn jump_to_oldest(&mut self) {
        if self.newest_top() > 0 {
            self.held_at = Some(0);
        }
    }

    pub fn follow_newest(&mut self) {
        self.held_at = None;
        self.unseen = 0;
    }

    /// A message was added to the conversation shown.
    pub fn arrived(&mut self) {
        if self.held_at.is_some() {
            self.unseen += 1;
        }
    }

    /// `None` while following the newest message; while held, how many arrived since.
    pub fn unseen(&self) -> Option<usize> {
        self.held_at.map(|_| self.unseen)
    }

    /// Takes the drawing's measure (`page` lines shown of `total`) and returns the first line
    /// to show.
    pub fn top(&mut self, page: usize, total: usize) -> usize {
        self.page = page;
        self.total = total;
        if let Some(top) = self.held_at {
            // The terminal may have grown, or the conversation been reloaded shorter.
            self.hold(top);
        }
        self.held_at.unwrap_or_else(|| self.newest_top())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(page: usize, total: usize) -> Scroll {
        let mut scroll = Scroll::default();
        scroll.top(page, total);
        scroll
    }

    #[test]
    fn pages_back_and_returns_to_following_at_the_end() {
        let mut scroll = measured(10, 35);
        assert_eq!(scroll.top(10, 35), 25);
        scroll.page_up();
        assert_eq!(scroll.top(10, 35), 15);
        scroll.page_up();
        scroll.page_up();
        scroll.page_up();
        assert_eq!(scroll.top(10, 35), 0, "stops at the first line");
        scroll.page_down();
        scroll.page_down();
        assert_eq!(scroll.top(10, 35), 20);
        scroll.page_down();
        assert_eq!(scroll.unseen(), None, "the end follows again");
        assert_eq!(scroll.top(10, 40), 30);
    }

    #[test]
    fn held_view_stays_and_counts_what_arrives() {
        let mut scroll = measured(10, 35);
        scroll.page_up();
        scroll.arrived();
        scroll.arrived();
        assert_eq!(scroll.top(10, 37), 15);
        assert_eq!(scroll.unseen(), Some(2));
        scroll.follow_newest();
        assert_eq!(scroll.unseen(), None);
        assert_eq!(scroll.top(10, 37), 27);
    }

    #[test]
    fn a_short_conversation_does_not_scroll() {
        let mut scroll = measured(10, 4);
        scroll.page_up();
        scroll.jump_to_oldest();
        assert_eq!(scroll.unseen(), None);
        assert_eq!(scroll.top(10, 4), 0);
    }
}
