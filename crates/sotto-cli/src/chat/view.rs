//! Drawing the chat: contacts and groups (marked `#`) on the left, the conversation on the right, the composer and a
//! status line below.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Mode};
use crate::person::printable::{as_read, printable, Form};

const HELP: &str = "Enter send · ↑↓ conversation · PgUp/PgDn/End scroll · Ctrl-R reply · \
     Ctrl-E edit · Ctrl-D delete · Ctrl-L 👍 · /file PATH · /download N · /group create NAME · \
     /group add CONTACT · /members · Ctrl-N invite · Ctrl-O connect · Ctrl-C quit";

/// Draws the chat; `app` is mutable only for its scroll position, which learns the
/// conversation's height here.
pub fn draw(frame: &mut Frame<'_>, app: &mut App) {
    let [main, composer, status] = Layout::vertical([
        Constraint::Min(5),
        Constraint::Length(3),
        Constraint::Length(2),
    ])
    .areas(frame.area());
    let [contacts, conversation] =
        Layout::horizontal([Constraint::Length(24), Constraint::Min(20)]).areas(main);

    let contacts_listed = app.contacts.iter().map(|c| ("", &c.alias, c.unread));
    let groups_listed = app.groups.iter().map(|g| ("# ", &g.alias, g.unread));
    let items: Vec<ListItem<'_>> = contacts_listed
        .chain(groups_listed)
        .map(|(mark, alias, unread)| {
            let unread = if unread > 0 {
                format!(" ({unread})")
            } else {
                String::new()
            };
            ListItem::new(format!("{mark}{}{unread}", printable(alias, Form::Line)))
        })
        .collect();
    let mut state = ListState::default().with_selected(Some(app.selected));
    frame.render_stateful_widget(
        List::new(items)
            .block(Block::bordered().title("contacts, # groups"))
            .highlight_style(Style::default().add_modifier(Modifier::REVERSED)),
        contacts,
        &mut state,
    );

    match &app.mode {
        Mode::Invite { link, qr } => {
            let text = format!("{qr}\n{link}");
            frame.render_widget(
                Paragraph::new(text).block(Block::bordered().title("your one-time link")),
                conversation,
            );
        }
        _ => draw_conversation(frame, conversation, app),
    }

    let title = match (&app.mode, &app.reply_to) {
        (Mode::Connect, _) => "link to connect with".to_string(),
        (Mode::Edit { .. }, _) => "your message, edited".to_string(),
        (Mode::Delete { .. }, _) => "Enter: delete your last message for both of you".to_string(),
        (_, Some(to)) => format!(
            "reply to: {}",
            shorten(&printable(&to.text, Form::Line), 40)
        ),
        _ => "message".to_string(),
    };
    frame.render_widget(
        Paragraph::new(format!("{}▏", app.composer)).block(Block::bordered().title(title)),
        composer,
    );
    let state = match app.online {
        Some(true) => "● online",
        Some(false) => "○ offline",
        None => "◌ starting",
    };
    let transfers: String = app
        .transfers
        .values()
        .map(|p| {
            let arrow = if p.outgoing { "↑" } else { "↓" };
            let percent = (p.done * 100).checked_div(p.total).unwrap_or(100);
            format!(
                " · {arrow} {} of {} ({percent}%)",
                size(p.done),
                size(p.total)
            )
        })
        .collect();
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(format!(
                "{state}{transfers} · {}",
                printable(&app.status, Form::Line)
            )),
            Line::from(HELP).style(Style::default().add_modifier(Modifier::DIM)),
        ]),
        status,
    );
}

/// The selected conversation, each message wrapped to the width, scrolled so that the newest
/// is at the bottom unless the person scrolled back.
fn draw_conversation(frame: &mut Frame<'_>, area: Rect, app: &mut App) {
    let mut block = Block::bordered().title(
        printable(
            app.selected_alias().unwrap_or("no conversation yet"),
            Form::Line,
        )
        .into_owned(),
    );
    let inner = block.inner(area);
    let mut files = 0;
    let messages: Vec<(Paragraph<'_>, usize)> = app
        .messages
        .iter()
        .map(|m| {
            // Numbered as `/download N` takes them.
            let number = m.file.is_some().then(|| {
                files += 1;
                files
            });
            let paragraph = Paragraph::new(message_line(m, number)).wrap(Wrap { trim: false });
            let height = paragraph.line_count(inner.width);
            (paragraph, height)
        })
        .collect();
    let page = usize::from(inner.height);
    let top = app
        .scroll
        .top(page, messages.iter().map(|(_, height)| height).sum());
    if let Some(unseen) = app.scroll.unseen() {
        let below = match unseen {
            0 => " ↓ more below · End ".to_string(),
            n => format!(" ↓ {n} new · End "),
        };
        block = block.title_bottom(Line::from(below).right_aligned());
    }
    frame.render_widget(block, area);

    // Each message is its own paragraph in the rows it has on screen, scrolled past the lines
    // above the view, so a message taller than the view still shows its part.
    let mut start = 0;
    for (paragraph, height) in messages {
        let end = start + height;
        if end > top && start < top + page {
            let first = start.max(top);
            let rows = Rect {
                y: inner.y + (first - top) as u16,
                height: (end.min(top + page) - first) as u16,
                ..inner
            };
            let skip = u16::try_from(first - start).unwrap_or(u16::MAX);
            frame.render_widget(paragraph.scroll((skip, 0)), rows);
        }
        start = end;
    }
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A byte count as a person reads it.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

fn message_line(m: &sotto_app::MessageView, file_number: Option<usize>) -> Line<'_> {
    let (who, mark) = if m.outgoing {
        ("me".into(), if m.delivered { " ✓✓" } else { " ✓" })
    } else {
        (printable(&m.contact, Form::Line), "")
    };
    let mut spans = vec![Span::styled(
        format!("{who}: "),
        Style::default().add_modifier(Modifier::BOLD),
    )];
    if m.reply_to.is_some() {
        spans.push(Span::styled(
            "↪ ",
            Style::default().add_modifier(Modifier::DIM),
        ));
    }
    if let Some(file) = &m.file {
        spans.push(Span::styled(
            format!(
                "[#{} {} {}, {}] ",
                file_number.unwrap_or_default(),
                file.kind.name(),
                printable(&file.name, Form::Line),
                size(file.size),
            ),
            Style::default().add_modifier(Modifier::ITALIC),
        ));
    }
    spans.push(Span::raw(as_read(m)));
    spans.push(Span::styled(
        mark,
        Style::default().add_modifier(Modifier::DIM),
    ));
    Line::from(spans)
}
