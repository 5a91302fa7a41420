"""Tables of the history engine (see runyard.history): sealed chunks and a watermark."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column

from runyard.stores.metadata.sql.models import Base, Name

Blob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


class SeriesChunk(Base):
    """One metric of one run over the history lines [start_line, end_line)."""

    __tablename__ = "series_chunks"
    __table_args__ = (Index("ix_series_chunks_key_step", "run_id", "key", "first_step"),)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    key: Mapped[str] = mapped_column(Name(255), primary_key=True)
    start_line: Mapped[int] = mapped_column(Integer(), primary_key=True, autoincrement=False)
    end_line: Mapped[int] = mapped_column(Integer())
    first_step: Mapped[int] = mapped_column(BigInteger())
    last_step: Mapped[int] = mapped_column(BigInteger())
    count: Mapped[int] = mapped_column(Integer())
    #: The whole chunk as one aggregate entry (values may be NaN or infinite, which MySQL
    #: columns cannot hold, hence bytes).
    summary: Mapped[bytes] = mapped_column(LargeBinary())
    #: Aggregates of every LOD_POINTS consecutive points.
    lod: Mapped[bytes] = mapped_column(Blob)
    #: The raw points (runyard.history.codec).
    points: Mapped[bytes] = mapped_column(Blob)


class SeriesWatermark(Base):
    """History lines below ``sealed_lines`` are sealed into chunks."""

    __tablename__ = "series_watermarks"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    sealed_lines: Mapped[int] = mapped_column(Integer())
