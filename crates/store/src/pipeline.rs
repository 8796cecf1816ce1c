//! Batches that read on one connection while they write on another.

use crate::DbConn;

/// Runs a batch as a sequence of items: `produce` reads (and works out) the next item, `None`
/// once there is none, and `consume` writes it. Given a second connection (`reader`), `produce`
/// runs on a thread of its own with it, one item ahead of `consume` on `conn`, so reading and
/// writing each have a core; at most three items are in memory. Without one, both take turns on
/// `conn`. The first error stops both sides and is returned; an error in `consume` wins.
pub fn pipeline<T, E>(
    conn: &mut DbConn,
    reader: Option<&mut DbConn>,
    mut produce: impl FnMut(&mut DbConn) -> Result<Option<T>, E> + Send,
    mut consume: impl FnMut(&mut DbConn, T) -> Result<(), E>,
) -> Result<(), E>
where
    T: Send,
    E: Send,
{
    let Some(reader) = reader else {
        while let Some(item) = produce(conn)? {
            consume(conn, item)?;
        }
        return Ok(());
    };
    let (items, received) = std::sync::mpsc::sync_channel::<T>(1);
    std::thread::scope(|s| {
        let producer = s.spawn(move || {
            while let Some(item) = produce(reader)? {
                // A closed channel means consuming failed; its error is the one returned.
                if items.send(item).is_err() {
                    break;
                }
            }
            Ok(())
        });
        // The receiver is dropped with this iterator, so a producer still sending stops.
        let consumed = received
            .into_iter()
            .try_for_each(|item| consume(conn, item));
        let produced = producer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        consumed.and(produced)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DatabaseUrl;

    fn connections() -> Result<(tempfile::TempDir, DbConn, DbConn), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let url = DatabaseUrl::parse(&format!("sqlite://{}", dir.path().join("p.db").display()))?;
        let (a, b) = (url.connect()?, url.connect()?);
        Ok((dir, a, b))
    }

    #[test]
    fn every_item_is_consumed_in_order_on_either_path() -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, mut conn, mut reader) = connections()?;
        for with_reader in [true, false] {
            let mut next = 0;
            let mut seen = Vec::new();
            pipeline(
                &mut conn,
                with_reader.then_some(&mut reader),
                |_| {
                    next += 1;
                    Ok::<_, String>((next <= 5).then_some(next))
                },
                |_, item| {
                    seen.push(item);
                    Ok(())
                },
            )?;
            assert_eq!(seen, [1, 2, 3, 4, 5], "with a reader: {with_reader}");
        }
        Ok(())
    }

    #[test]
    fn an_error_on_either_side_stops_the_batch() -> Result<(), Box<dyn std::error::Error>> {
        let (_dir, mut conn, mut reader) = connections()?;
        for with_reader in [true, false] {
            let mut produced = 0;
            let failed = pipeline(
                &mut conn,
                with_reader.then_some(&mut reader),
                |_| {
                    produced += 1;
                    Ok(Some(produced))
                },
                |_, item| {
                    if item == 3 {
                        Err(format!("cannot write {item}"))
                    } else {
                        Ok(())
                    }
                },
            );
            assert_eq!(failed, Err("cannot write 3".to_owned()));
            // The producer runs at most two items ahead before it sees the channel closed.
            assert!(produced <= 5, "{produced} produced after the writer failed");

            let mut consumed = 0;
            let failed = pipeline(
                &mut conn,
                with_reader.then_some(&mut reader),
                |_| Err::<Option<u32>, _>("cannot read".to_owned()),
                |_, _| {
                    consumed += 1;
                    Ok(())
                },
            );
            assert_eq!(failed, Err("cannot read".to_owned()));
            assert_eq!(consumed, 0);
        }
        Ok(())
    }
}
