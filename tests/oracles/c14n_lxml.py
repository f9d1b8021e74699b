"""C14N oracle: canonicalize every element of each XML file with lxml.

Usage: c14n_lxml.py FILE...   (or file names on stdin when none are given)

Writes one JSON object per line:
  {"file": F, "parsed": false}                        when lxml refuses the file
  {"file": F, "index": I, "method": M, "prefixes": P, "out": S}
where I counts elements in document order (the root is 0), M is one of
exclusive, exclusive-comments, inclusive, inclusive-comments, and P is the
InclusiveNamespaces prefix list (exclusive methods only, "" when none).
"""
import json
import sys

from lxml import etree

METHODS = {
    "exclusive": (True, False),
    "exclusive-comments": (True, True),
    "inclusive": (False, False),
    "inclusive-comments": (False, True),
}
MAX_ELEMENTS = 400


def prefix_lists(root):
    """The prefix lists to try: none, and every prefix used in the document.

    "#default" is left out: lxml keeps only prefixes that occur in the
    document's name dictionary, so it silently drops "#default".
    """
    prefixes = set()
    for el in root.iter(etree.Element):
        for p in (el.nsmap or {}):
            if p is not None:
                prefixes.add(p)
    lists = [[]]
    if prefixes:
        lists.append(sorted(prefixes))
    return lists


def main():
    files = sys.argv[1:] or [line.strip() for line in sys.stdin if line.strip()]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False,
                             huge_tree=False, strip_cdata=True)
    out = sys.stdout
    for f in files:
        try:
            tree = etree.parse(f, parser)
        except etree.XMLSyntaxError:
            out.write(json.dumps({"file": f, "parsed": False}) + "\n")
            continue
        root = tree.getroot()
        lists = prefix_lists(root)
        for index, el in enumerate(root.iter(etree.Element)):
            if index >= MAX_ELEMENTS:
                break
            for method, (exclusive, comments) in METHODS.items():
                for plist in (lists if exclusive else [[]]):
                    c14n = etree.tostring(el, method="c14n", exclusive=exclusive, with_comments=comments,
                                          inclusive_ns_prefixes=plist or None)
                    out.write(json.dumps({"file": f, "index": index, "method": method,
                                          "prefixes": " ".join(plist), "out": c14n.decode("utf-8")}) + "\n")


if __name__ == "__main__":
    main()
