//! [`Socket`]: a blocking `NETLINK_NETFILTER` socket in the network
//! namespace of the thread that opened it, with the two reply loops every
//! caller needs ([`Socket::wait_ack`], [`Socket::exists`]).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

use super::{NLMSG_DONE, NLMSG_ERROR, errno_of, messages};

const NETLINK_NETFILTER: i32 = 12;

/// A `NETLINK_NETFILTER` socket in the netns it was created in.
#[derive(Debug)]
pub struct Socket {
    fd: OwnedFd,
    seq: u32,
    pub buf: Vec<u8>,
}

impl Socket {
    /// A socket in the calling thread's netns (2 s receive timeout).
    pub fn open() -> io::Result<Socket> {
        Socket::open_with_timeout(Duration::from_secs(2))
    }

    /// A socket in the calling thread's netns; `recv` fails with
    /// `EAGAIN` / `EWOULDBLOCK` after `timeout` without a reply.
    pub fn open_with_timeout(timeout: Duration) -> io::Result<Socket> {
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                NETLINK_NETFILTER,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        // SAFETY: valid fd, option value of the right size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Socket {
            fd,
            seq: 1,
            buf: vec![0; 64 << 10],
        })
    }

    /// Sends one request to the kernel.
    pub fn send(&mut self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: all-zero sockaddr_nl is valid; nl_pid 0 addresses the kernel.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        // SAFETY: buffer and address are valid for the given lengths.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&sa as *const libc::sockaddr_nl).cast(),
                size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// Receives one datagram into `buf`; returns its length.
    pub fn recv(&mut self) -> io::Result<usize> {
        // SAFETY: the buffer is valid for its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                0,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }

    /// The next request sequence number.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Reads replies until the ACK of `seq`. Any kernel error read on the
    /// way is returned, also one for an earlier message of a batch (errors
    /// arrive in order, so the ACK of a batch's last message closes it).
    pub fn wait_ack(&mut self, seq: u32) -> io::Result<()> {
        loop {
            let n = self.recv()?;
            for m in messages(&self.buf[..n]) {
                if m.kind != NLMSG_ERROR {
                    continue;
                }
                match errno_of(m.payload) {
                    0 if m.seq == seq => return Ok(()),
                    0 => {}
                    e => return Err(io::Error::from_raw_os_error(e)),
                }
            }
        }
    }

    /// Sends `req` (sequence `seq`: a GET with `NLM_F_ACK` or a dump) and
    /// tells whether any reply of type `hit` came back. `ENOENT` (missing
    /// table, chain, ...) is `false`; other kernel errors are errors.
    pub fn exists(&mut self, req: &[u8], seq: u32, hit: u16) -> io::Result<bool> {
        self.send(req)?;
        let mut found = false;
        loop {
            let n = self.recv()?;
            for m in messages(&self.buf[..n]).filter(|m| m.seq == seq) {
                match m.kind {
                    k if k == hit => found = true,
                    NLMSG_DONE => return Ok(found),
                    NLMSG_ERROR => {
                        return match errno_of(m.payload) {
                            0 => Ok(found),
                            libc::ENOENT => Ok(false),
                            e => Err(io::Error::from_raw_os_error(e)),
                        };
                    }
                    _ => {}
                }
            }
        }
    }
}
