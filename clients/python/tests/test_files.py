"""Integration: the files API (raw uploads, text and binary round trips, listing,
deletion, refused paths)."""

from __future__ import annotations

import os

import pytest

from sandboxed import ConflictError, Directory, File, InvalidArgumentError, NotFoundError

pytestmark = pytest.mark.integration


def test_text_and_binary_round_trip_list_and_delete(client, boxes):
    sid = boxes.create().id
    text = "héllo wörld ✓\nline 2\n"
    blob = bytes(range(256)) + os.urandom(4096)

    w = client.files.write(sid, "workspace/app/notes/hello.txt", text)
    assert (w.path, w.bytes_written, w.appended) == ("workspace/app/notes/hello.txt",
                                                      len(text.encode()), False)
    assert client.files.write(sid, "workspace/app/notes/blob.bin", blob).bytes_written == len(blob)

    assert client.files.read_text(sid, "workspace/app/notes/hello.txt") == text
    assert client.files.read_bytes(sid, "workspace/app/notes/blob.bin") == blob

    as_json = client.files.get(sid, "workspace/app/notes/blob.bin")
    assert isinstance(as_json, File) and as_json.encoding == "base64"
    assert as_json.data == blob and as_json.size == len(blob)
    text_json = client.files.get(sid, "workspace/app/notes/hello.txt")
    assert isinstance(text_json, File) and text_json.encoding == "utf8"
    assert text_json.content == text

    appended = client.files.write(sid, "workspace/app/notes/hello.txt", "more\n", append=True)
    assert appended.appended
    assert client.files.read_text(sid, "workspace/app/notes/hello.txt") == text + "more\n"

    listing = client.files.list(sid, "workspace/app/notes")
    assert isinstance(listing, Directory) and not listing.truncated
    sizes = {e.name: (e.type, e.size) for e in listing.entries}
    assert sizes == {"hello.txt": ("file", len((text + "more\n").encode())),
                     "blob.bin": ("file", len(blob))}
    assert any(e.name == "workspace" and e.type == "dir" for e in client.files.list(sid).entries)
    with pytest.raises(NotADirectoryError):
        client.files.list(sid, "workspace/app/notes/blob.bin")

    # Seen by the sandbox's own processes too.
    assert client.sandboxes.exec(sid, ["cat", "notes/hello.txt"]).stdout == text + "more\n"

    with pytest.raises(ConflictError):
        client.files.delete(sid, "workspace/app/notes")  # not empty
    client.files.delete(sid, "workspace/app/notes/blob.bin")
    with pytest.raises(NotFoundError):
        client.files.read_bytes(sid, "workspace/app/notes/blob.bin")


def test_files_work_while_the_sandbox_is_stopped_and_do_not_start_it(client, boxes):
    sid = boxes.create().id
    client.sandboxes.stop(sid)
    client.files.write(sid, "workspace/app/a.txt", "offline\n")
    assert client.files.read_text(sid, "workspace/app/a.txt") == "offline\n"
    assert client.sandboxes.get(sid).status == "stopped"


def test_paths_outside_the_workspace_are_refused(client, boxes):
    sid = boxes.create().id
    for bad in ("../etc/passwd", "/etc/passwd"):
        with pytest.raises(InvalidArgumentError):
            client.files.read_bytes(sid, bad)
        with pytest.raises(InvalidArgumentError):
            client.files.write(sid, bad, "x")
