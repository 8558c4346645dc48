"""Readers: every format on tiny hand-written files (good and bad), and on the real datasets."""

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from tfrecords_builder.readers import (
    FORMATS,
    ML1M_GENRES,
    ML1M_OCCUPATIONS,
    ReaderError,
    read_source,
)

ML100K_GENRES = ["unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western"]


def _write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def _flags(*names):
    return "|".join("1" if g in names else "0" for g in ML100K_GENRES)


@pytest.fixture
def ml100k(tmp_path):
    folder = tmp_path / "ml-100k"
    _write(folder / "u.data", "1\t10\t4\t881250949\n2\t20\t3\t881250950\n1\t20\t5\t881250948\n")
    _write(folder / "u.genre", "".join(f"{g}|{i}\n" for i, g in enumerate(ML100K_GENRES)) + "\n")
    _write(folder / "u.item",
           f"10|Amélie (2001)|01-Jan-2001||http://x|{_flags('Comedy', 'Romance')}\n"
           f"20|Heat (1995)|01-Jan-1995||http://y|{_flags()}\n", encoding="latin-1")
    _write(folder / "u.user", "1|17|F|student|12345\n2|56|M|other|T8H1N\n")
    return folder


def test_movielens_100k_reads_interactions_and_side_files(ml100k):
    raw = read_source("movielens-100k", ml100k)
    frame = raw.interactions
    assert list(frame.columns) == ["user", "item", "timestamp", "rating"]
    assert frame["user"].tolist() == [1, 2, 1]
    assert frame["item"].tolist() == [10, 20, 20]
    assert frame["timestamp"].tolist() == [881250949, 881250950, 881250948]
    assert frame["rating"].tolist() == [4.0, 3.0, 5.0]
    assert frame["timestamp"].dtype == np.int64 and frame["rating"].dtype == np.float64
    assert raw.has_timestamps and raw.source_format == "movielens-100k"
    assert raw.genre_vocabulary == ML100K_GENRES
    assert raw.items.loc[10, "title"] == "Amélie (2001)"  # Latin-1 decoded
    assert raw.items.loc[10, "genres"] == ["Comedy", "Romance"]
    assert raw.items.loc[20, "genres"] == []
    # Ages in years are bucketed into the ML-1M groups.
    assert raw.users.loc[1].tolist() == ["F", "Under 18", "student"]
    assert raw.users.loc[2].tolist() == ["M", "56+", "other"]
    assert {p.name for p in raw.source_files} == {"u.data", "u.genre", "u.item", "u.user"}


def test_movielens_100k_side_files_are_optional(ml100k):
    for name in ("u.genre", "u.user"):
        (ml100k / name).unlink()
    raw = read_source("movielens-100k", ml100k)
    assert raw.users is None and raw.genre_vocabulary is None
    assert raw.items["title"].tolist() == ["Amélie (2001)", "Heat (1995)"]
    assert "genres" not in raw.items
    assert [p.name for p in raw.source_files] == ["u.data", "u.item"]


@pytest.mark.parametrize("line, message", [
    ("3\t30\t4\n", "u.data line 3: expected 4 tab-separated fields (user item rating timestamp), "
                   "got 3"),
    ("3\t30\tfive\t881250949\n", "u.data line 3: expected rating to be a number, got 'five'"),
    ("3\tx30\t4\t881250949\n", "u.data line 3: expected item to be an integer, got 'x30'"),
    ("3\t30\t4\t\n", "u.data line 3: expected timestamp to be an integer, got ''"),
])
def test_movielens_100k_malformed_line_names_file_and_line(ml100k, line, message):
    _write(ml100k / "u.data", "1\t10\t4\t881250949\n\n" + line + "2\t20\t3\t881250950\n")
    with pytest.raises(ReaderError, match=re.escape(message)):
        read_source("movielens-100k", ml100k)


def test_movielens_100k_bad_side_files(ml100k):
    _write(ml100k / "u.item", f"10|A|||http://x|{_flags()}|0\n", encoding="latin-1")
    with pytest.raises(ReaderError, match=r"u.item line 1: expected 24 pipe-separated fields "
                                          r"\(id\|title\|release\|video_release\|url\|19 genre"):
        read_source("movielens-100k", ml100k)
    _write(ml100k / "u.item", f"10|A|||http://x|{_flags()}\n20|B|||u|{_flags()[:-1]}2\n")
    with pytest.raises(ReaderError, match="u.item line 2: genre flags must be 0 or 1"):
        read_source("movielens-100k", ml100k)


def test_movielens_100k_requires_u_data(tmp_path, ml100k):
    (ml100k / "u.data").unlink()
    with pytest.raises(ReaderError, match="u.data: required file not found"):
        read_source("movielens-100k", ml100k)
    with pytest.raises(ReaderError, match="not a folder"):
        read_source("movielens-100k", ml100k / "u.item")


@pytest.fixture
def ml1m(tmp_path):
    folder = tmp_path / "ml-1m"
    _write(folder / "ratings.dat", "1::1193::5::978300760\n2::661::3::978302109\n"
                                   "2::1193::4::978301968\n")
    _write(folder / "movies.dat",
           "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
           "661::Cité des enfants perdus, La (1995)::Adventure|Sci-Fi\n"
           "7::Star Wars: Episode IV (1977)::Action|IMAX\n", encoding="latin-1")
    _write(folder / "users.dat", "1::F::1::10::48067\n2::M::56::0::70072\n")
    return folder


def test_movielens_1m_reads_ratings_movies_and_coded_users(ml1m):
    raw = read_source("movielens-1m", ml1m)
    assert raw.interactions["user"].tolist() == [1, 2, 2]
    assert raw.interactions["item"].tolist() == [1193, 661, 1193]
    assert raw.interactions["rating"].tolist() == [5.0, 3.0, 4.0]
    assert raw.items.loc[661, "title"] == "Cité des enfants perdus, La (1995)"
    assert raw.items.loc[661, "genres"] == ["Adventure", "Sci-Fi"]
    # README order first, then genres it does not list (ML-10M's IMAX).
    assert raw.genre_vocabulary == list(ML1M_GENRES) + ["IMAX"]
    assert raw.users.loc[1].tolist() == ["F", "Under 18", "K-12 student"]
    assert raw.users.loc[2].tolist() == ["M", "56+", "other or not specified"]


def test_movielens_10m_is_the_1m_reader_without_users(ml1m):
    (ml1m / "users.dat").unlink()
    _write(ml1m / "ratings.dat", "1::1193::4.5::978300760\n")
    raw = read_source("movielens-10m", ml1m)
    assert raw.source_format == "movielens-10m" and raw.users is None
    assert raw.interactions["rating"].tolist() == [4.5]


def test_movielens_1m_errors(ml1m):
    _write(ml1m / "ratings.dat", "1::1193::5::978300760\n1::1193:5::978300760\n")
    with pytest.raises(ReaderError, match="ratings.dat line 2: expected 4 '::'-separated fields "
                                          r"\(UserID::MovieID::Rating::Timestamp\), got 3"):
        read_source("movielens-1m", ml1m)
    _write(ml1m / "ratings.dat", "1::1193::5::978300760\n")
    _write(ml1m / "users.dat", "1::F::1::10::48067\n2::M::30::0::70072\n")
    with pytest.raises(ReaderError, match=r"users.dat line 2: unknown age code 30"):
        read_source("movielens-1m", ml1m)
    _write(ml1m / "users.dat", "1::F::1::21::48067\n")
    with pytest.raises(ReaderError, match=r"users.dat line 1: unknown occupation code 21"):
        read_source("movielens-1m", ml1m)
    _write(ml1m / "users.dat", "1::F::1::2::48067\n")
    _write(ml1m / "movies.dat", "1::A (1995)::Drama\n2::B (1996)::Drama\n1::C (1997)::War\n")
    with pytest.raises(ReaderError, match=r"movies.dat line 3: movie 1 appears twice; expected "
                                          r"one row per movie"):
        read_source("movielens-1m", ml1m)
    (ml1m / "ratings.dat").unlink()
    with pytest.raises(ReaderError, match="ratings.dat: required file not found"):
        read_source("movielens-1m", ml1m)


def test_movielens_20m_csv_with_quoted_titles(tmp_path):
    folder = tmp_path / "ml-20m"
    _write(folder / "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n"
                                   "1,29,3.5,1112484676\n7,2,4.0,1094785740\n")
    _write(folder / "movies.csv", 'movieId,title,genres\n2,Jumanji (1995),Adventure|Children\n'
                                  '29,"City of Lost Children, The (1995)",Fantasy|Adventure\n'
                                  '31,Empty (2015),(no genres listed)\n')
    raw = read_source("movielens-25m", folder)
    assert raw.source_format == "movielens-25m"
    assert raw.interactions["user"].tolist() == [1, 1, 7]
    assert raw.interactions["rating"].tolist() == [3.5, 3.5, 4.0]
    assert raw.interactions["timestamp"].dtype == np.int64
    assert raw.items.loc[29, "title"] == "City of Lost Children, The (1995)"
    assert raw.items.loc[31, "genres"] == []
    assert raw.genre_vocabulary == ["Adventure", "Children", "Fantasy"]


def test_movielens_20m_errors(tmp_path):
    folder = tmp_path / "ml-20m"
    _write(folder / "ratings.csv", "userId,movieId,stars,timestamp\n1,2,3.5,1112486027\n")
    with pytest.raises(ReaderError, match=r"ratings.csv: missing column\(s\) \['rating'\]"):
        read_source("movielens-20m", folder)
    _write(folder / "ratings.csv", "userId,movieId,rating,timestamp\n1,2,3.5,1112486027\n"
                                   "1,3,3.5\n")
    with pytest.raises(ReaderError, match="ratings.csv line 3: expected 4 comma-separated fields "
                                          r"\(userId,movieId,rating,timestamp\), got 3"):
        read_source("movielens-20m", folder)


def test_sequence_text(tmp_path):
    path = _write(tmp_path / "seq.txt", "1 5 6 7\n\n2 6 8\n")
    raw = read_source("sequence-text", path)
    frame = raw.interactions
    assert frame["user"].tolist() == [1, 1, 1, 2, 2]
    assert frame["item"].tolist() == [5, 6, 7, 6, 8]
    assert frame["timestamp"].tolist() == [0, 1, 2, 0, 1]
    assert frame["rating"].isna().all() and not raw.has_timestamps
    assert frame["user"].dtype == np.int64


def test_sequence_text_keeps_non_integer_ids_as_strings(tmp_path):
    raw = read_source("sequence-text", _write(tmp_path / "s.txt", "u1 007 7\nu2 A\n"))
    assert raw.interactions["user"].tolist() == ["u1", "u1", "u2"]
    # "007" and "7" are different items: ids are not coerced to integers.
    assert raw.interactions["item"].tolist() == ["007", "7", "A"]


def test_sequence_text_errors(tmp_path):
    with pytest.raises(ReaderError, match="s.txt line 2: expected a user id followed by at least "
                                          "one item id, got 1 field"):
        read_source("sequence-text", _write(tmp_path / "s.txt", "1 2 3\n4\n"))
    with pytest.raises(ReaderError, match="s.txt line 3: user '1' already has a sequence on line "
                                          "1; expected one line per user"):
        read_source("sequence-text", _write(tmp_path / "s.txt", "1 2 3\n2 4\n1 5\n"))


def test_pair_text(tmp_path):
    raw = read_source("pair-text", _write(tmp_path / "p.txt", "a 1\nb\t2\n\na  3\n"))
    assert raw.interactions["user"].tolist() == ["a", "b", "a"]
    assert raw.interactions["item"].tolist() == [1, 2, 3]
    assert raw.interactions["timestamp"].tolist() == [0, 1, 2]
    assert not raw.has_timestamps
    for text, line, got in [("a 1\nb 2 3\n", 2, 3), ("a 1\nb\nc 3\n", 2, 1),
                            ("a 1 2\nb 2\n", 1, 3)]:
        with pytest.raises(ReaderError, match=f"p.txt line {line}: expected 2 whitespace-"
                                              f"separated fields \\(user item\\), got {got}"):
            read_source("pair-text", _write(tmp_path / "p.txt", text))


def test_table_csv_with_iso_times_and_ratings(tmp_path):
    path = _write(tmp_path / "log.csv", 'uid,note,iid,when,score\n'
                                        'u1,"hello, world",10,2020-01-01 00:00:10,4.5\n'
                                        'u2,x,11,2020-01-01T00:00:00Z,\n')
    raw = read_source("table", path, user_col="uid", item_col="iid", time_col="when",
                      rating_col="score")
    frame = raw.interactions
    assert frame["user"].tolist() == ["u1", "u2"]
    assert frame["item"].tolist() == [10, 11]
    assert frame["timestamp"].tolist() == [1577836810, 1577836800]
    assert frame["rating"].iloc[0] == 4.5 and np.isnan(frame["rating"].iloc[1])
    assert raw.has_timestamps


def test_table_without_time_uses_file_order_and_reads_parquet(tmp_path):
    path = tmp_path / "log.parquet"
    pd.DataFrame({"user_id": [3, 1, 3], "item_id": ["b", "a", "c"],
                  "ts": pd.to_datetime(["2021-01-01", "2020-01-01", "2022-01-01"])}
                 ).to_parquet(path)
    raw = read_source("table", path)
    assert raw.interactions["timestamp"].tolist() == [0, 1, 2] and not raw.has_timestamps
    assert raw.interactions["item"].tolist() == ["b", "a", "c"]
    raw = read_source("table", path, time_col="ts")
    assert raw.interactions["timestamp"].tolist() == [1609459200, 1577836800, 1640995200]


def test_table_tsv_with_unix_times(tmp_path):
    path = _write(tmp_path / "log.tsv", "user_id\titem_id\tt\n5\t6\t100\n")
    raw = read_source("table", path, time_col="t")
    assert raw.interactions.iloc[0].tolist() == [5, 6, 100, pytest.approx(np.nan, nan_ok=True)]


def test_table_errors(tmp_path):
    path = _write(tmp_path / "log.csv", "user_id,item_id,t,r\n1,2,3,4\n1,,4,5\n")
    with pytest.raises(ReaderError, match=r"log.csv: missing column\(s\) \['time'\]; the header "
                                          r"has \['user_id', 'item_id', 't', 'r'\]"):
        read_source("table", path, time_col="time")
    with pytest.raises(ReaderError, match="log.csv line 3: empty item_id"):
        read_source("table", path)
    _write(path, "user_id,item_id,t,r\n1,2,3,4\n1,3,4,five\n")
    with pytest.raises(ReaderError, match="log.csv line 3: expected r to be a number, got 'five'"):
        read_source("table", path, rating_col="r")
    _write(path, "user_id,item_id,t\n1,2,100\n1,3,\n")
    with pytest.raises(ReaderError, match="log.csv line 3: expected t to be a unix time or an "
                                          "ISO-8601 date, got an empty field"):
        read_source("table", path, time_col="t")
    _write(path, "\ufeffuser_id,item_id,t\n1,2,2020-01-01\n1,3,yesterday\n")
    with pytest.raises(ReaderError, match="log.csv line 3: expected t to be a unix time or an "
                                          "ISO-8601 date, got 'yesterday'"):
        read_source("table", path, time_col="t")
    _write(path, 'user_id,item_id\n1,2\n1,"3\nmore",x\n')
    with pytest.raises(ReaderError, match="log.csv line 3: expected 2 comma-separated fields"):
        read_source("table", path)
    with pytest.raises(ReaderError, match="unknown table type '.json'"):
        read_source("table", _write(tmp_path / "log.json", "{}"))


def test_yelp_reviews_with_business_file(tmp_path):
    reviews = _write(tmp_path / "yelp_academic_dataset_review.json",
                     '{"review_id": "r1", "user_id": "U1", "business_id": "B1", "stars": 4.0, '
                     '"date": "2018-07-07 22:09:11", "text": "Great, really"}\n'
                     '{"user_id": "U2", "business_id": "B2", "stars": 1, '
                     '"date": "2012-01-03 15:28:18"}\n')
    _write(tmp_path / "yelp_academic_dataset_business.json",
           '{"business_id": "B1", "name": "Café", "categories": "Restaurants, Bars"}\n'
           '{"business_id": "B2", "name": "Shop", "categories": null}\n')
    raw = read_source("yelp", reviews)
    frame = raw.interactions
    assert frame["user"].tolist() == ["U1", "U2"] and frame["item"].tolist() == ["B1", "B2"]
    assert frame["timestamp"].tolist() == [1531001351, 1325604498]
    assert frame["rating"].tolist() == [4.0, 1.0]
    assert raw.items.loc["B1"].tolist() == ["Café", ["Restaurants", "Bars"]]
    assert raw.items.loc["B2", "genres"] == []
    assert raw.genre_vocabulary == ["Bars", "Restaurants"]
    assert len(raw.source_files) == 2


def test_yelp_errors(tmp_path):
    path = tmp_path / "review.json"
    good = '{"user_id": "U1", "business_id": "B1", "stars": 4, "date": "2018-07-07 22:09:11"}\n'
    for text, message in [
        (good + '{"user_id": "U2", "business_id": \n', "review.json line 2: not valid JSON"),
        (good + '{"user_id": "U2", "stars": 4, "date": "2018-07-07 22:09:11"}\n',
         "review.json line 2: missing field 'business_id'"),
        (good + good.replace("2018-07-07 22:09:11", "July 7"),
         "review.json line 2: expected date as 'YYYY-MM-DD HH:MM:SS', got 'July 7'"),
        (good + good.replace("4", '"four"'), "review.json line 2: expected stars to be a number"),
    ]:
        with pytest.raises(ReaderError, match=re.escape(message)):
            read_source("yelp", _write(path, text))
    _write(path, good)
    business = _write(tmp_path / "shops.json", '{"business_id": "B1", "name": "A"}\n\n'
                                               '{"business_id": "B1", "name": "B"}\n')
    with pytest.raises(ReaderError, match="shops.json line 3: business 'B1' appears twice"):
        read_source("yelp", path, business_path=business)
    with pytest.raises(ReaderError, match="nowhere.json: business file not found"):
        read_source("yelp", path, business_path=tmp_path / "nowhere.json")


def test_read_source_rejects_unknown_format_options_and_paths(tmp_path, ml100k):
    with pytest.raises(ReaderError, match="unknown format 'csv'; expected one of " +
                       ", ".join(FORMATS)):
        read_source("csv", tmp_path)
    with pytest.raises(ReaderError, match=r"does not take option\(s\) \['user_col'\]"):
        read_source("movielens-100k", ml100k, user_col="u")
    with pytest.raises(ReaderError, match="not found"):
        read_source("sequence-text", tmp_path / "missing.txt")


# Real data (skipped when ../shared/data is absent).


def test_real_movielens_100k(shared_data):
    raw = read_source("movielens-100k", shared_data / "ml-100k")
    frame = raw.interactions
    assert len(frame) == 100_000
    assert frame["user"].nunique() == 943 and frame["item"].nunique() == 1682
    assert raw.genre_vocabulary == ML100K_GENRES
    assert len(raw.items) == 1682 and raw.items.loc[1, "title"] == "Toy Story (1995)"
    assert set(raw.users.index) == set(frame["user"])
    assert raw.users.notna().all().all()
    assert set(raw.users["age"]) <= {"Under 18", "18-24", "25-34", "35-44", "45-49", "50-55",
                                     "56+"}
    assert set(raw.users["gender"]) == {"M", "F"}


def test_real_beauty(shared_data):
    raw = read_source("sequence-text", shared_data / "beauty" / "Beauty.txt")
    frame = raw.interactions
    assert len(frame) == 198_502
    assert frame["user"].nunique() == 22_363 and frame["item"].nunique() == 12_101
    first = frame[frame["user"] == 1]
    assert first["item"].tolist() == [1, 2, 3, 4, 5]
    assert first["timestamp"].tolist() == [0, 1, 2, 3, 4]


def test_real_movielens_1m_side_files(shared_data, tmp_path):
    for name in ("movies.dat", "users.dat"):
        shutil.copy(shared_data / "ml-1m-side" / name, tmp_path / name)
    _write(tmp_path / "ratings.dat", "1::1193::5::978300760\n6040::3952::2::956715648\n")
    raw = read_source("movielens-1m", tmp_path)
    assert len(raw.items) == 3883 and len(raw.users) == 6040
    assert raw.genre_vocabulary == list(ML1M_GENRES)  # nothing outside the README's 18
    assert raw.items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert raw.users.loc[1].tolist() == ["F", "Under 18", "K-12 student"]
    assert set(raw.users["occupation"]) <= set(ML1M_OCCUPATIONS)
    assert raw.users.notna().all().all()


@pytest.mark.parametrize("fmt, name, text", [
    ("sequence-text", "seq.txt", b"1 2 3\n2 4 \xff5\n"),
    ("pair-text", "pairs.txt", b"1 2\n2 \xff4\n"),
    ("yelp", "reviews.json",
     b'{"user_id": "u", "business_id": "b", "stars": 5, "date": "2020-01-01 10:00:00"}\n'
     b'{"user_id": "\xff", "business_id": "b", "stars": 5, "date": "2020-01-02 10:00:00"}\n'),
])
def test_bytes_that_are_not_utf8_name_the_line_and_byte(tmp_path, fmt, name, text):
    path = tmp_path / name
    path.write_bytes(text)
    offset = text.index(b"\xff")
    with pytest.raises(ReaderError, match=rf"{name} line 2, byte {offset}: "
                                          r"b'\\xff' is not valid utf-8 text"):
        read_source(fmt, path)


def test_movielens_bytes_that_are_not_utf8_name_the_file_line_and_byte(ml100k):
    data = (ml100k / "u.data").read_bytes()
    (ml100k / "u.data").write_bytes(data + b"3\t3\xe90\t4\t881250949\n")
    with pytest.raises(ReaderError, match=rf"u.data line 4, byte {len(data) + 3}: "
                                          r"b'\\xe9' is not valid utf-8"):
        read_source("movielens-100k", ml100k)


def test_sequence_text_rejects_nul_bytes(tmp_path):
    with pytest.raises(ReaderError, match="s.txt line 2: contains a NUL byte"):
        read_source("sequence-text", _write(tmp_path / "s.txt", "1 2 3\n2 4\x00 5\n"))


def test_a_header_is_skipped_only_when_asked_and_words_first_are_data(tmp_path, capsys):
    lines = ["u1 apple 2 3", "2 4 5", "3 6 2"]
    # A non-numeric first item id is data, whatever order the lines come in.
    for order in (lines, lines[::-1]):
        raw = read_source("sequence-text", _write(tmp_path / "s.txt", "\n".join(order) + "\n"))
        assert len(raw.interactions) == 7 and "apple" in set(raw.interactions["item"])
    assert "read as data (user 'u1' with 3 item(s)); if it is a header, pass --header" \
        in capsys.readouterr().err
    raw = read_source("sequence-text", _write(tmp_path / "s.txt", "user_id item_ids\n1 2 3\n"
                                                                   "2 4\n"), header=True)
    assert len(raw.interactions) == 3
    raw = read_source("pair-text", _write(tmp_path / "p.txt", "user item\n1 2\n1 3\n"),
                      header=True)
    assert len(raw.interactions) == 2


def test_errors_quote_at_most_80_characters_of_a_line(tmp_path):
    token = "x" * 5_000_000
    with pytest.raises(ReaderError) as caught:
        read_source("sequence-text", _write(tmp_path / "s.txt", f"{token} 1\n{token} 2\n"))
    message = str(caught.value)
    assert len(message) < 300 and "(5,000,000 characters)" in message, message[:300]
    path = _write(tmp_path / "log.csv", f"user_id,item_id,t\n1,2,3\n1,2,{token}\n")
    with pytest.raises(ReaderError) as caught:
        read_source("table", path, time_col="t")
    assert len(str(caught.value)) < 300, str(caught.value)[:300]


def test_table_timestamp_error_names_the_bad_row_among_unix_times(tmp_path):
    rows = "".join(f"1,{i},{1700000000 + i}\n" for i in range(59))
    path = _write(tmp_path / "log.csv", f"user_id,item_id,t\n{rows}1,99,17OO000000\n1,5,17\n")
    with pytest.raises(ReaderError, match="log.csv line 61: expected t to be a unix time or an "
                                          "ISO-8601 date, got '17OO000000'"):
        read_source("table", path, time_col="t")


def test_movielens_without_titles_says_what_is_lost(ml100k, capsys):
    (ml100k / "u.item").unlink()
    raw = read_source("movielens-100k", ml100k)
    assert raw.items is None
    assert (f"warning: {ml100k / 'u.item'} not found: items get no titles or genres, users no "
            f"favorite_genre label") in capsys.readouterr().err


@pytest.mark.parametrize("fmt, name, text", [
    ("sequence-text", "seq.txt", "1 café thé\n2 thé\n"),
    ("pair-text", "pairs.txt", "1 café\n1 thé\n2 thé\n"),
    ("table", "log.csv", "user_id,item_id\n1,café\n1,thé\n2,thé\n"),
])
def test_latin1_sources_read_with_their_encoding(tmp_path, fmt, name, text):
    path = _write(tmp_path / name, text, encoding="latin-1")
    with pytest.raises(ReaderError, match="is not valid utf-8 text; give the file's encoding"):
        read_source(fmt, path)
    raw = read_source(fmt, path, encoding="latin-1")
    assert raw.interactions["item"].tolist() == ["café", "thé", "thé"]
