import json
from pathlib import Path

import pytest

from annotator.core.vocabulary import BUILTIN_IMAGENET, VocabularyError, parse_vocabulary
from tests.builders import IMAGENET_DATA


def test_class_info_json_gives_the_1000_imagenet_classes_in_index_order():
    classes = parse_vocabulary(IMAGENET_DATA / "class_info.json")
    assert len(classes) == 1000
    assert classes[0].key == "n01440764" and classes[0].name == "tench"
    assert classes[0].synonyms == ["Tinca tinca"]
    assert classes[0].gloss.startswith("freshwater dace-like")
    assert classes[999].index == 999


def test_keras_class_index_gives_the_same_keys_and_keeps_repeated_names_apart():
    info = parse_vocabulary(IMAGENET_DATA / "class_info.json")
    keras = parse_vocabulary(IMAGENET_DATA / "imagenet_class_index.json")
    assert [c.key for c in keras] == [c.key for c in info]
    cranes = [c for c in keras if c.name == "crane"]
    assert len(cranes) == 2 and cranes[0].key != cranes[1].key


def test_loc_synset_mapping_text_is_read_in_line_order(tmp_path: Path):
    info = json.loads((IMAGENET_DATA / "class_info.json").read_text())
    mapping = tmp_path / "LOC_synset_mapping.txt"
    mapping.write_text("".join(f"{c['wnid']} {', '.join(c['synset'])}\n" for c in info))
    classes = parse_vocabulary(mapping)
    assert len(classes) == 1000
    assert (classes[1].key, classes[1].name, classes[1].synonyms) == ("n01443537", "goldfish", ["Carassius auratus"])


def test_a_plain_list_uses_each_line_as_key_and_name(tmp_path: Path):
    path = tmp_path / "classes.txt"
    path.write_text("cat\ndog\n\nbird\n")
    classes = parse_vocabulary(path)
    assert [(c.index, c.key, c.name) for c in classes] == [(0, "cat", "cat"), (1, "dog", "dog"), (2, "bird", "bird")]


def test_a_repeated_key_is_refused(tmp_path: Path):
    path = tmp_path / "classes.txt"
    path.write_text("cat\ndog\ncat\n")
    with pytest.raises(VocabularyError, match="'cat' appears twice"):
        parse_vocabulary(path)


def test_invalid_json_names_the_line(tmp_path: Path):
    path = tmp_path / "class_index.json"
    path.write_text('{"0": ["n01440764", "tench"],\n "1": ]}')
    with pytest.raises(VocabularyError, match="line 2"):
        parse_vocabulary(path)


def test_the_builtin_vocabulary_is_the_repository_copy():
    assert BUILTIN_IMAGENET.exists()
    assert len(parse_vocabulary(BUILTIN_IMAGENET)) == 1000
