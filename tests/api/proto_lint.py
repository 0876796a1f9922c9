#!/usr/bin/env python3
"""Lints our own protos against a few Google AIP rules, from a FileDescriptorSet.

Usage: proto_lint.py DESCRIPTOR_SET [--package uhc.v1]

Make the set from the repo root with
  protoc --proto_path=proto --descriptor_set_out=X --include_imports --include_source_info \
      proto/uhc/v1/*.proto
(file names in the set, and so in findings, are relative to --proto_path: uhc/v1/common.proto).
Only files whose package is --package (default uhc.v1) are linted; imports only resolve types.
Prints one `file:line: rule: message` line per finding and exits 1, or prints a one-line summary
and exits 0. Exits 2 when the set is unreadable, holds no file of the package, or has no
source info. Needs python3-protobuf (/usr/bin/python3 on Debian 12).

Rules:
  enum-zero        every enum's value 0 is named <ENUM_NAME_IN_UPPER_SNAKE>_UNSPECIFIED (AIP-126).
  enum-prefix      every enum value starts with <ENUM_NAME_IN_UPPER_SNAKE>_ (AIP-126), e.g. enum
                   EventOutcome -> EVENT_OUTCOME_APPLIED.
  timestamp-name   every google.protobuf.Timestamp field is named *_time (*_times if repeated)
                   (AIP-142).
  list-paging      every RPC named List<Something> takes a request with `int32 page_size` and
                   `string page_token` and returns a response with `string next_page_token`
                   (AIP-158).
  comment          every message, field, oneof, enum, enum value, service and RPC has a leading
                   comment (map entries and proto3 `optional` oneofs are generated: skipped).
  package-options  every file sets java_package, java_multiple_files = true, go_package,
                   csharp_namespace and php_namespace.
  date-int         no integer field is named *_date, *_month or *_yyyymm: a date is a string
                   "YYYY-MM-DD" or a google.type.Date (AIP-142, our rule).
"""
import argparse
import re
import sys

from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError

FDP = descriptor_pb2.FieldDescriptorProto
# Field numbers used in SourceCodeInfo paths (see descriptor.proto).
FILE_PACKAGE, FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 2, 4, 5, 6
MSG_FIELD, MSG_NESTED, MSG_ENUM, MSG_ONEOF = 2, 3, 4, 8
ENUM_VALUE, SERVICE_METHOD = 2, 2
INTEGER_TYPES = {FDP.TYPE_INT32, FDP.TYPE_INT64, FDP.TYPE_UINT32, FDP.TYPE_UINT64,
                 FDP.TYPE_SINT32, FDP.TYPE_SINT64, FDP.TYPE_FIXED32, FDP.TYPE_FIXED64,
                 FDP.TYPE_SFIXED32, FDP.TYPE_SFIXED64}
REQUIRED_OPTIONS = ["java_package", "java_multiple_files", "go_package", "csharp_namespace",
                    "php_namespace"]


def upper_snake(name):
    """EventOutcome -> EVENT_OUTCOME, HTTPStatus -> HTTP_STATUS."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).upper()


def has_field(msg, name, type_):
    return any(f.name == name and f.type == type_ and f.label != FDP.LABEL_REPEATED
               for f in msg.field)


class Linter:
    def __init__(self, fds):
        self.findings = []
        # Every message of the set (imports included) by full name, for the RPC types.
        self.messages = {}
        for f in fds.file:
            self._index(f.message_type, "." + f.package if f.package else "")

    def _index(self, msgs, prefix):
        for m in msgs:
            self.messages[f"{prefix}.{m.name}"] = m
            self._index(m.nested_type, f"{prefix}.{m.name}")

    def report(self, path, rule, message):
        loc = self.locations.get(tuple(path))
        line = loc.span[0] + 1 if loc else 1
        self.findings.append((self.file.name, line, rule, message))

    def comment(self, path, what):
        loc = self.locations.get(tuple(path))
        if not loc or not loc.leading_comments.strip():
            self.report(path, "comment", f"{what} has no leading comment")

    def lint_file(self, f):
        self.file = f
        self.locations = {tuple(l.path): l for l in f.source_code_info.location}
        missing = [o for o in REQUIRED_OPTIONS if not getattr(f.options, o)]
        if missing:
            self.report([FILE_PACKAGE], "package-options", "missing " + ", ".join(
                "java_multiple_files = true" if o == "java_multiple_files" else o
                for o in missing))
        for i, m in enumerate(f.message_type):
            self.lint_message(m, [FILE_MESSAGE, i])
        for i, e in enumerate(f.enum_type):
            self.lint_enum(e, [FILE_ENUM, i])
        for i, s in enumerate(f.service):
            self.lint_service(s, [FILE_SERVICE, i])

    def lint_message(self, m, path):
        if m.options.map_entry:  # generated for a map<K, V> field
            return
        self.comment(path, f"message {m.name}")
        for i, fld in enumerate(m.field):
            fpath = path + [MSG_FIELD, i]
            self.comment(fpath, f"field {m.name}.{fld.name}")
            if fld.type_name == ".google.protobuf.Timestamp":
                suffix = "_times" if fld.label == FDP.LABEL_REPEATED else "_time"
                if not fld.name.endswith(suffix):
                    self.report(fpath, "timestamp-name",
                                f"Timestamp field {m.name}.{fld.name} should be named *{suffix}")
            if fld.type in INTEGER_TYPES and fld.name.endswith(("_date", "_month", "_yyyymm")):
                self.report(fpath, "date-int", f"integer field {m.name}.{fld.name} holds a date:"
                            " use a string \"YYYY-MM-DD\" (or \"YYYY-MM\") or google.type.Date")
        synthetic = {fld.oneof_index for fld in m.field if fld.proto3_optional}
        for i, o in enumerate(m.oneof_decl):
            if i not in synthetic:
                self.comment(path + [MSG_ONEOF, i], f"oneof {m.name}.{o.name}")
        for i, n in enumerate(m.nested_type):
            self.lint_message(n, path + [MSG_NESTED, i])
        for i, e in enumerate(m.enum_type):
            self.lint_enum(e, path + [MSG_ENUM, i])

    def lint_enum(self, e, path):
        self.comment(path, f"enum {e.name}")
        prefix = upper_snake(e.name) + "_"
        zero = [v for v in e.value if v.number == 0]
        if not zero:
            self.report(path, "enum-zero", f"enum {e.name} has no value 0 ({prefix}UNSPECIFIED)")
        for i, v in enumerate(e.value):
            vpath = path + [ENUM_VALUE, i]
            self.comment(vpath, f"enum value {v.name}")
            if v.number == 0 and v.name != prefix + "UNSPECIFIED":
                self.report(vpath, "enum-zero", f"value 0 of {e.name} is {v.name}, "
                            f"should be {prefix}UNSPECIFIED")
            if not v.name.startswith(prefix):
                self.report(vpath, "enum-prefix", f"value {v.name} of {e.name} should start "
                            f"with {prefix}")

    def lint_service(self, s, path):
        self.comment(path, f"service {s.name}")
        for i, rpc in enumerate(s.method):
            rpath = path + [SERVICE_METHOD, i]
            self.comment(rpath, f"rpc {s.name}.{rpc.name}")
            if not re.match(r"List[A-Z]", rpc.name):
                continue
            req, resp = self.messages.get(rpc.input_type), self.messages.get(rpc.output_type)
            need = [(req, rpc.input_type, "page_size", FDP.TYPE_INT32, "int32"),
                    (req, rpc.input_type, "page_token", FDP.TYPE_STRING, "string"),
                    (resp, rpc.output_type, "next_page_token", FDP.TYPE_STRING, "string")]
            for msg, type_name, field, type_, type_word in need:
                if msg is None or not has_field(msg, field, type_):
                    self.report(rpath, "list-paging", f"{rpc.name}: {type_name.lstrip('.')} "
                                f"lacks `{type_word} {field}` (AIP-158)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("descriptor_set", help="FileDescriptorSet with source info")
    parser.add_argument("--package", default="uhc.v1", help="package to lint (default uhc.v1)")
    args = parser.parse_args()
    fds = descriptor_pb2.FileDescriptorSet()
    try:
        with open(args.descriptor_set, "rb") as fh:
            fds.ParseFromString(fh.read())
    except (OSError, DecodeError) as e:
        print(f"proto_lint: cannot read {args.descriptor_set}: {e}", file=sys.stderr)
        return 2
    files = [f for f in fds.file if f.package == args.package]
    if not files:
        print(f"proto_lint: no file of package {args.package} in {args.descriptor_set}",
              file=sys.stderr)
        return 2
    if not any(f.HasField("source_code_info") for f in files):
        print("proto_lint: no source info: make the set with --include_source_info",
              file=sys.stderr)
        return 2
    linter = Linter(fds)
    for f in files:
        linter.lint_file(f)
    for finding in sorted(linter.findings):
        print("%s:%d: %s: %s" % finding)
    if linter.findings:
        print(f"proto_lint: {len(linter.findings)} findings in {len(files)} file(s) of "
              f"{args.package}", file=sys.stderr)
        return 1
    print(f"proto_lint: {len(files)} file(s) of {args.package} pass every rule")
    return 0


if __name__ == "__main__":
    sys.exit(main())
