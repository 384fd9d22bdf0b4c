//! Carrying out control messages: events written elsewhere, the read-only switch.

use super::WriterState;
use crate::domain::Event;
use crate::write::{Control, Receipt, WriteError};

impl WriterState {
    /// Carries out a control message (see [`Control`]). Unlike a client request it is
    /// carried out on a read-only server too, and by no principal.
    pub(crate) fn control(
        &mut self,
        c: Control,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        match c {
            Control::Apply(events) => self.prepare_apply(events, out),
            Control::SetReadOnly(why) => {
                self.set_read_only(why);
                Ok(Receipt {
                    last_sequence: self.last_sequence(),
                    ..Receipt::default()
                })
            }
        }
    }

    /// Events written elsewhere: each must continue the chain (next sequence, `prev_hash`
    /// = this state's head, a hash that recomputes); then they are folded and appended as
    /// they are. Nothing is folded when any of them does not fit.
    fn prepare_apply(
        &mut self,
        events: Vec<Event>,
        out: &mut Vec<Event>,
    ) -> Result<Receipt, WriteError> {
        crate::domain::event::verify_chain(self.last_sequence(), self.head_hash, &events).map_err(
            |e| {
                WriteError::Diverged(format!(
                    "event {} does not continue this server's log (at sequence {}): {}",
                    e.sequence,
                    self.last_sequence(),
                    e.reason
                ))
            },
        )?;
        let first = self.next_sequence;
        let recorded = events.len() as u32;
        for e in events {
            self.apply(&e);
            out.push(e);
        }
        Ok(Receipt {
            first_sequence: if recorded == 0 { 0 } else { first },
            last_sequence: self.last_sequence(),
            receipt_hash: Some(self.head_hash),
            recorded,
            ..Receipt::default()
        })
    }
}
